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
