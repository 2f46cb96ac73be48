using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using Org.BouncyCastle.Asn1.X9;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.EC;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.Security;
using Telemetry.Abstractions;

namespace Telemetry.Protocol;

/// <summary>Why a signature did not verify; the code is what metrics count.</summary>
public enum SignatureFailure
{
    /// <summary>Nothing failed.</summary>
    None = 0,
    /// <summary>R and S are well-formed but do not verify against the message and key (<c>mismatch</c>).</summary>
    Mismatch = 1,
    /// <summary>R or S is not a number between 1 and the curve order, or longer than 33 bytes (<c>malformed</c>).</summary>
    Malformed = 2,
    /// <summary>The registered public key is not a point of the SM2 curve (<c>badKey</c>).</summary>
    BadKey = 3,
}

/// <summary>What checking the signatures of one frame found.</summary>
/// <param name="Check">The worst check of the frame's signatures (<see cref="SignatureCheck.NotSigned"/> for an unsigned profile).</param>
/// <param name="Failure">The first failure's reason, or <see cref="SignatureFailure.None"/>.</param>
/// <param name="Signatures">Signatures in the frame.</param>
/// <param name="Failures">Signatures that did not verify.</param>
public readonly record struct SignatureOutcome(SignatureCheck Check, SignatureFailure Failure, int Signatures, int Failures)
{
    internal SignatureOutcome Add(SignatureCheck check, SignatureFailure failure) => new(
        check > Check ? check : Check,
        Failure == SignatureFailure.None ? failure : Failure,
        Signatures + 1,
        Failures + (failure == SignatureFailure.None ? 0 : 1));
}

/// <summary>
/// SM2 signatures with SM3 as HJ 1239 terminals make them: the signer's user ID is the default
/// <c>1234567812345678</c>, R and S are 32-byte big-endian integers (a 33-byte form with a leading
/// zero is accepted), public keys are the uncompressed point <c>04 || X || Y</c> in hex (the 64-byte
/// form without the 04 prefix, and the 33-byte compressed form, are accepted too).
/// </summary>
public static class Sm2Signatures
{
    // BouncyCastle's custom implementation of the curve (fixed-size field arithmetic): the same parameters as
    // GMNamedCurves' generic one, whose BigInteger arithmetic took 0.8 ms and 2 MB of garbage per verification
    // (bench/results/protocol.md).
    private static readonly X9ECParameters Curve = CustomNamedCurves.GetByName("sm2p256v1");
    private static readonly ECDomainParameters Domain = new(Curve);
    private static readonly ConditionalWeakTable<string, ParsedKey> Keys = new();

    private sealed record ParsedKey(ECPublicKeyParameters? Key);

    /// <summary>The metrics/dead-letter code of <paramref name="failure"/>.</summary>
    public static string Code(SignatureFailure failure) => failure switch
    {
        SignatureFailure.Mismatch => "mismatch",
        SignatureFailure.Malformed => "malformed",
        SignatureFailure.BadKey => "badKey",
        _ => "none",
    };

    /// <summary>True when <paramref name="publicKeyHex"/> is a point of the SM2 curve in one of the accepted forms.</summary>
    public static bool IsValidPublicKey(string? publicKeyHex) => publicKeyHex is not null && Parse(publicKeyHex) is not null;

    /// <summary>
    /// Verifies R and S over <paramref name="message"/> with the public key in hex. Never throws.
    /// The parsed key is cached per key string instance (the registry keeps one per vehicle).
    /// </summary>
    public static SignatureFailure Verify(string publicKeyHex, ReadOnlySpan<byte> message, ReadOnlySpan<byte> r, ReadOnlySpan<byte> s)
    {
        ArgumentNullException.ThrowIfNull(publicKeyHex);
        var key = Keys.GetValue(publicKeyHex, k => new ParsedKey(Parse(k))).Key;
        if (key is null)
            return SignatureFailure.BadKey;
        Span<byte> plain = stackalloc byte[64];
        if (!TryFixed32(r, plain[..32]) || !TryFixed32(s, plain[32..]))
            return SignatureFailure.Malformed;
        var rValue = new BigInteger(1, plain[..32]);
        var sValue = new BigInteger(1, plain[32..]);
        if (rValue.SignValue == 0 || sValue.SignValue == 0 || rValue.CompareTo(Domain.N) >= 0 || sValue.CompareTo(Domain.N) >= 0)
            return SignatureFailure.Malformed;
        try
        {
            var signer = new SM2Signer(PlainDsaEncoding.Instance, new SM3Digest());
            signer.Init(false, key);
            signer.BlockUpdate(message);
            return signer.VerifySignature(plain.ToArray()) ? SignatureFailure.None : SignatureFailure.Mismatch;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or Org.BouncyCastle.Crypto.CryptoException)
        {
            return SignatureFailure.Malformed;
        }
    }

    /// <summary>Signs <paramref name="message"/> with the private key (64 hex digits): what a terminal does; for tests and the simulator.</summary>
    public static FrameSignature Sign(string privateKeyHex, ReadOnlySpan<byte> message)
    {
        ArgumentNullException.ThrowIfNull(privateKeyHex);
        if (privateKeyHex.Length != 64 || !privateKeyHex.All(char.IsAsciiHexDigit))
            throw new ArgumentException("An SM2 private key is 64 hex digits.", nameof(privateKeyHex));
        var d = new BigInteger(1, Convert.FromHexString(privateKeyHex));
        var signer = new SM2Signer(PlainDsaEncoding.Instance, new SM3Digest());
        signer.Init(true, new ParametersWithRandom(new ECPrivateKeyParameters(d, Domain), new SecureRandom()));
        signer.BlockUpdate(message);
        var plain = signer.GenerateSignature();
        return new FrameSignature(plain.AsSpan(0, 32).ToImmutableArray(), plain.AsSpan(32, 32).ToImmutableArray());
    }

    /// <summary>A new key pair: the private key (64 hex digits) and the public key (<c>04 || X || Y</c>, 130 hex digits).</summary>
    public static (string PrivateKeyHex, string PublicKeyHex) GenerateKeyPair()
    {
        var generator = new ECKeyPairGenerator();
        generator.Init(new ECKeyGenerationParameters(Domain, new SecureRandom()));
        var pair = generator.GenerateKeyPair();
        var d = ((ECPrivateKeyParameters)pair.Private).D.ToByteArrayUnsigned();
        var q = ((ECPublicKeyParameters)pair.Public).Q.GetEncoded(false);
        var privateKey = new byte[32];
        d.CopyTo(privateKey, 32 - d.Length);
        return (Convert.ToHexString(privateKey), Convert.ToHexString(q));
    }

    private static ECPublicKeyParameters? Parse(string hex)
    {
        try
        {
            var bytes = Convert.FromHexString(hex.Trim());
            if (bytes.Length == 64)
                bytes = [0x04, .. bytes];
            if (bytes.Length is not (65 or 33))
                return null;
            var point = Curve.Curve.DecodePoint(bytes);
            return point.IsInfinity || !point.IsValid() ? null : new ECPublicKeyParameters(point, Domain);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>Left-pads an integer of at most 32 significant bytes to exactly 32.</summary>
    private static bool TryFixed32(ReadOnlySpan<byte> value, Span<byte> destination)
    {
        while (value.Length > 32 && value[0] == 0)
            value = value[1..];
        if (value.Length > 32)
            return false;
        destination.Clear();
        value.CopyTo(destination[(32 - value.Length)..]);
        return true;
    }

    /// <summary>The sample mark for a frame or record whose signature check gave <paramref name="failure"/>, or no key.</summary>
    internal static SignatureCheck ToCheck(bool hasKey, SignatureFailure failure) =>
        !hasKey ? SignatureCheck.NoKey : failure == SignatureFailure.None ? SignatureCheck.Verified : SignatureCheck.Failed;
}
