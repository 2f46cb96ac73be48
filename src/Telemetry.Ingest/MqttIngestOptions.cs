namespace Telemetry.Ingest;

/// <summary>Where the broker is and how the silo subscribes to terminal frames.</summary>
public sealed class MqttIngestOptions
{
    public const string Section = "Telemetry:Mqtt";

    /// <summary><c>Embedded</c>: this process runs an MQTTnet broker; <c>External</c>: connect to mosquitto/EMQX.</summary>
    public BrokerMode Mode { get; set; } = BrokerMode.Embedded;

    /// <summary>Broker host (External) or the address the embedded broker binds (Embedded).</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Broker TCP port.</summary>
    public int Port { get; set; } = 1883;

    /// <summary>Topic prefix: terminals publish to <c>{prefix}/{vin}/{format}</c>.</summary>
    public string TopicPrefix { get; set; } = "hdv";

    /// <summary>Shared-subscription group; silos in one group split the load (External mode).</summary>
    public string ShareGroup { get; set; } = "telemetry";

    /// <summary>Subscribe through <c>$share/{ShareGroup}/...</c>. Only used in External mode.</summary>
    public bool UseSharedSubscription { get; set; } = true;

    /// <summary>MQTT client id of the ingest subscriber; empty = <c>telemetry-ingest-{machine}</c>.</summary>
    public string ClientId { get; set; } = "";

    /// <summary>Optional credentials of the ingest subscriber.</summary>
    public string? Username { get; set; }

    /// <summary>Password of the ingest subscriber.</summary>
    public string? Password { get; set; }

    /// <summary>How long the broker keeps the subscriber's session (and its queued frames) while it is away.</summary>
    public TimeSpan SessionExpiry { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Parallel dispatch lanes; frames of one VIN always use the same lane, so they stay in order.</summary>
    public int Lanes { get; set; } = 64;

    /// <summary>Frames buffered per lane before the subscriber stops reading (back-pressure).</summary>
    public int LaneCapacity { get; set; } = 256;

    /// <summary>Largest payload accepted; a GB 17691 frame is at most 65,531 + 25 bytes.</summary>
    public int MaxPayloadBytes { get; set; } = 65_556;

    /// <summary>Returns one sentence per invalid setting.</summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(Host))
        {
            yield return $"{Section}:Host must name the broker host or bind address.";
        }
        if (Port is < 1 or > 65535)
        {
            yield return $"{Section}:Port {Port} is not a TCP port (1-65535).";
        }
        if (string.IsNullOrWhiteSpace(TopicPrefix) || TopicPrefix.AsSpan().IndexOfAny("+#/") >= 0)
        {
            yield return $"{Section}:TopicPrefix '{TopicPrefix}' must be one topic level without '+', '#' or '/'.";
        }
        if (UseSharedSubscription && Mode == BrokerMode.External && (string.IsNullOrWhiteSpace(ShareGroup) || ShareGroup.AsSpan().IndexOfAny("+#/") >= 0))
        {
            yield return $"{Section}:ShareGroup '{ShareGroup}' must be a non-empty name without '+', '#' or '/'.";
        }
        if (Lanes is < 1 or > 4096)
        {
            yield return $"{Section}:Lanes {Lanes} must be between 1 and 4096.";
        }
        if (LaneCapacity is < 1 or > 1_000_000)
        {
            yield return $"{Section}:LaneCapacity {LaneCapacity} must be between 1 and 1000000.";
        }
        if (MaxPayloadBytes is < 26 or > 16_000_000)
        {
            yield return $"{Section}:MaxPayloadBytes {MaxPayloadBytes} must be between 26 and 16000000.";
        }
        if (SessionExpiry < TimeSpan.Zero || SessionExpiry.TotalSeconds > uint.MaxValue)
        {
            yield return $"{Section}:SessionExpiry {SessionExpiry} must be a non-negative duration.";
        }
    }

    /// <summary>The topic filter the subscriber uses.</summary>
    public string SubscriptionFilter => Mode == BrokerMode.External && UseSharedSubscription
        ? $"$share/{ShareGroup}/{TopicPrefix}/+/+"
        : $"{TopicPrefix}/+/+";
}

/// <summary>Which broker the silo uses.</summary>
public enum BrokerMode
{
    Embedded = 0,
    External = 1,
}
