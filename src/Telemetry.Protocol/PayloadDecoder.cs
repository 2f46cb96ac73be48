using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using Telemetry.Abstractions;

namespace Telemetry.Protocol;

/// <summary>
/// The ingest facade: turns one MQTT payload into a <see cref="TelemetryBatch"/> or a
/// <see cref="Rejection"/>. The format is the topic's last segment (<c>hdv/{vin}/{format}</c>):
/// a profile name or <c>json</c>. Thread-safe and allocation-lean; <see cref="TryDecode"/> never throws.
/// </summary>
public sealed class PayloadDecoder
{
    private readonly ProtocolOptions _options;
    private readonly FrozenDictionary<string, TerminalProfile> _profiles;

    /// <summary>Builds the decoder; throws <see cref="ArgumentException"/> with every problem when the options are not valid.</summary>
    public PayloadDecoder(ProtocolOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
            throw new ArgumentException(string.Join(" ", problems), nameof(options));
        _options = options;
        _profiles = options.BuildProfiles().ToFrozenDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        Formats = [.. _profiles.Keys.Order(StringComparer.Ordinal), ProtocolOptions.JsonFormat];
    }

    /// <summary>Every format segment this decoder accepts: the profile names and <c>json</c>.</summary>
    public IReadOnlyList<string> Formats { get; }

    /// <summary>The profile named <paramref name="name"/>, if configured.</summary>
    public bool TryGetProfile(string name, [NotNullWhen(true)] out TerminalProfile? profile) =>
        _profiles.TryGetValue(name, out profile);

    /// <summary>
    /// Decodes <paramref name="payload"/> in <paramref name="format"/>. A payload whose VIN differs
    /// from <paramref name="topicVin"/> is rejected as <see cref="RejectReason.VinMismatch"/>; a time
    /// later than <paramref name="receivedUtc"/> by more than <see cref="ProtocolOptions.MaxFutureSkew"/>
    /// as <see cref="RejectReason.TimeOutOfRange"/>. Never throws: an unforeseen failure is
    /// <see cref="RejectReason.InternalError"/>.
    /// </summary>
    public bool TryDecode(string format, string topicVin, ReadOnlySpan<byte> payload, DateTime receivedUtc,
        [NotNullWhen(true)] out TelemetryBatch? batch, out Rejection rejection)
    {
        batch = null;
        try
        {
            if (format is null || topicVin is null)
            {
                rejection = new(RejectReason.UnknownFormat, "The topic names no format or no VIN.");
                return false;
            }
            bool decoded;
            if (string.Equals(format, ProtocolOptions.JsonFormat, StringComparison.OrdinalIgnoreCase))
            {
                if (payload.Length > _options.MaxJsonBytes)
                {
                    rejection = new(RejectReason.BadLength, $"The JSON payload has {payload.Length} bytes; at most {_options.MaxJsonBytes} are accepted.");
                    return false;
                }
                decoded = JsonFrameFormat.TryDecode(payload, receivedUtc, _options.MaxJsonSamples, out batch, out rejection);
                if (decoded && !string.Equals(batch!.Vin, topicVin, StringComparison.Ordinal))
                {
                    rejection = new(RejectReason.VinMismatch, $"The message's VIN {batch.Vin} differs from the topic's VIN {topicVin}.");
                    batch = null;
                    return false;
                }
            }
            else if (_profiles.TryGetValue(format, out var profile))
            {
                decoded = FrameCodec.TryDecodeBatch(payload, profile, topicVin, receivedUtc, out batch, out rejection);
            }
            else
            {
                rejection = new(RejectReason.UnknownFormat, $"Format '{(format.Length <= 40 ? format : format[..40])}' is not one of {string.Join(", ", Formats)}.");
                return false;
            }
            if (decoded && _options.MaxFutureSkew is { } skew && !IsWithinSkew(batch!, receivedUtc, skew, out rejection))
            {
                batch = null;
                return false;
            }
            return decoded;
        }
        catch (Exception ex)
        {
            batch = null;
            rejection = new(RejectReason.InternalError, $"The decoder failed unexpectedly ({ex.GetType().Name}: {ex.Message}).");
            return false;
        }
    }

    /// <summary>
    /// Decodes every frame of <paramref name="payload"/>: binary payloads may hold several
    /// concatenated frames (<see cref="FrameSplitter"/>); each is decoded or rejected on its own, in
    /// order, with its offset. A JSON payload is one message. <paramref name="vehicle"/> (the registry's
    /// entry for the topic's VIN, if any) may name the terminal's profile, which then replaces the
    /// topic's binary format, and its SM2 public key, with which signed profiles' signatures are checked
    /// (without one the samples are marked <see cref="SignatureCheck.NoKey"/>, never rejected). Never throws.
    /// </summary>
    public IReadOnlyList<PayloadFrame> DecodeAll(string format, string topicVin, ReadOnlySpan<byte> payload, DateTime receivedUtc, VehicleInfo? vehicle = null)
    {
        if (format is null || topicVin is null || string.Equals(format, ProtocolOptions.JsonFormat, StringComparison.OrdinalIgnoreCase))
            return [Single(format!, topicVin!, payload, receivedUtc)];
        var profileName = vehicle?.TerminalProfile is { Length: > 0 } named ? named : format;
        if (!_profiles.TryGetValue(profileName, out var profile))
        {
            var message = ReferenceEquals(profileName, format)
                ? $"Format '{(format.Length <= 40 ? format : format[..40])}' is not one of {string.Join(", ", Formats)}."
                : $"The vehicle registry names profile '{(profileName.Length <= 40 ? profileName : profileName[..40])}' for {topicVin}, which is not one of {string.Join(", ", Formats)}.";
            return [new PayloadFrame(0, payload.Length, null, new(RejectReason.UnknownFormat, message), default)];
        }
        var key = profile.IsSigned && vehicle?.TerminalPublicKey is { Length: > 0 } k ? k : null;
        var first = FrameSplitter.NextPieceLength(payload, profile.AcceptTildeStart);
        if (first == payload.Length)
            return [DecodeFrame(profile, key, topicVin, payload, 0, receivedUtc)];
        var frames = new List<PayloadFrame>();
        var offset = 0;
        while (offset < payload.Length)
        {
            var length = offset == 0 ? first : FrameSplitter.NextPieceLength(payload[offset..], profile.AcceptTildeStart);
            frames.Add(DecodeFrame(profile, key, topicVin, payload.Slice(offset, length), offset, receivedUtc));
            offset += length;
        }
        return frames;
    }

    private PayloadFrame Single(string format, string topicVin, ReadOnlySpan<byte> payload, DateTime receivedUtc) =>
        TryDecode(format, topicVin, payload, receivedUtc, out var batch, out var rejection)
            ? new PayloadFrame(0, payload.Length, batch, default, default)
            : new PayloadFrame(0, payload.Length, null, rejection, default);

    private PayloadFrame DecodeFrame(TerminalProfile profile, string? key, string topicVin, ReadOnlySpan<byte> frame, int offset, DateTime receivedUtc)
    {
        try
        {
            if (!FrameCodec.TryDecodeBatch(frame, profile, topicVin, receivedUtc, key, out var batch, out var rejection, out var signature))
                return new PayloadFrame(offset, frame.Length, null, rejection, default);
            if (_options.MaxFutureSkew is { } skew && !IsWithinSkew(batch, receivedUtc, skew, out rejection))
                return new PayloadFrame(offset, frame.Length, null, rejection, default);
            return new PayloadFrame(offset, frame.Length, batch, default, signature);
        }
        catch (Exception ex)
        {
            return new PayloadFrame(offset, frame.Length, null,
                new(RejectReason.InternalError, $"The decoder failed unexpectedly ({ex.GetType().Name}: {ex.Message})."), default);
        }
    }

    private static bool IsWithinSkew(TelemetryBatch batch, DateTime receivedUtc, TimeSpan skew, out Rejection rejection)
    {
        rejection = default;
        var limit = receivedUtc.Ticks + skew.Ticks;
        if (batch.FrameTimeUtc.Ticks > limit)
        {
            rejection = new(RejectReason.TimeOutOfRange, $"The frame time {batch.FrameTimeUtc:O} is more than {skew} after its arrival at {receivedUtc:O}.");
            return false;
        }
        foreach (var sample in batch.Samples)
        {
            if (sample.TimeUtc.Ticks > limit)
            {
                rejection = new(RejectReason.TimeOutOfRange, $"A sample time {sample.TimeUtc:O} is more than {skew} after its arrival at {receivedUtc:O}.");
                return false;
            }
        }
        foreach (var obd in batch.Obd)
        {
            if (obd.TimeUtc.Ticks > limit)
            {
                rejection = new(RejectReason.TimeOutOfRange, $"An OBD time {obd.TimeUtc:O} is more than {skew} after its arrival at {receivedUtc:O}.");
                return false;
            }
        }
        return true;
    }
}

/// <summary>One frame of a payload: decoded (<see cref="Batch"/> set) or rejected (<see cref="Rejection"/>).</summary>
/// <param name="Offset">Where the frame starts in the payload.</param>
/// <param name="Length">Its bytes (a rejected piece: the bytes up to the next frame).</param>
/// <param name="Batch">The decoded frame, or null when rejected.</param>
/// <param name="Rejection">Why it was rejected (default when decoded).</param>
/// <param name="Signature">What checking its signatures found (signed profiles).</param>
public readonly record struct PayloadFrame(int Offset, int Length, TelemetryBatch? Batch, Rejection Rejection, SignatureOutcome Signature)
{
    /// <summary>True when the frame was decoded.</summary>
    [MemberNotNullWhen(true, nameof(Batch))]
    public bool Decoded => Batch is not null;
}
