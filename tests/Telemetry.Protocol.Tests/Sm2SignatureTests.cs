using Org.BouncyCastle.Asn1.GM;
using Org.BouncyCastle.Crypto.Digests;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.Security;

namespace Telemetry.Protocol.Tests;

/// <summary>
/// <see cref="Sm2Signatures"/> runs on BouncyCastle's custom (fixed-size arithmetic) implementation of sm2p256v1;
/// signatures must be the same mathematics as the generic implementation of the GM named curve, in both directions.
/// </summary>
public sealed class Sm2SignatureTests
{
    private static readonly ECDomainParameters Generic = new(GMNamedCurves.GetByName("sm2p256v1"));

    private static byte[] SignGeneric(string privateKeyHex, byte[] message)
    {
        var signer = new SM2Signer(PlainDsaEncoding.Instance, new SM3Digest());
        signer.Init(true, new ParametersWithRandom(new ECPrivateKeyParameters(new BigInteger(1, Convert.FromHexString(privateKeyHex)), Generic), new SecureRandom()));
        signer.BlockUpdate(message);
        return signer.GenerateSignature();
    }

    private static bool VerifyGeneric(string publicKeyHex, byte[] message, byte[] plainSignature)
    {
        var signer = new SM2Signer(PlainDsaEncoding.Instance, new SM3Digest());
        signer.Init(false, new ECPublicKeyParameters(Generic.Curve.DecodePoint(Convert.FromHexString(publicKeyHex)), Generic));
        signer.BlockUpdate(message);
        return signer.VerifySignature(plainSignature);
    }

    [Fact]
    public void SignaturesOfTheGenericCurve_VerifyHere_AndTheseVerifyThere()
    {
        var random = new Random(1239);
        for (var i = 0; i < 20; i++)
        {
            var (privateKey, publicKey) = Sm2Signatures.GenerateKeyPair();
            var message = new byte[38 + i];
            random.NextBytes(message);

            var generic = SignGeneric(privateKey, message);
            var ours = Sm2Signatures.Sign(privateKey, message);

            Assert.Equal(SignatureFailure.None, Sm2Signatures.Verify(publicKey, message, generic.AsSpan(0, 32), generic.AsSpan(32, 32)));
            Assert.True(VerifyGeneric(publicKey, message, [.. ours.R, .. ours.S]));
            message[i % message.Length] ^= 0x01;
            Assert.Equal(SignatureFailure.Mismatch, Sm2Signatures.Verify(publicKey, message, generic.AsSpan(0, 32), generic.AsSpan(32, 32)));
            Assert.False(VerifyGeneric(publicKey, message, [.. ours.R, .. ours.S]));
        }
    }
}
