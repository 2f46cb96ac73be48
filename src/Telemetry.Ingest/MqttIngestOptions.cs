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

    /// <summary>
    /// Embedded broker: let clients connect without a user name (lab set-ups). They may publish under any VIN of the
    /// prefix, and the frame's VIN must still be the topic's. Off by default: each terminal connects with its VIN and
    /// its secret (<c>telemetry-cli devices add VIN</c>) and may publish only under its own VIN. A wrong or revoked
    /// secret is refused either way.
    /// </summary>
    public bool AllowAnonymous { get; set; }

    /// <summary>Optional credentials of the ingest subscriber.</summary>
    public string? Username { get; set; }

    /// <summary>Password of the ingest subscriber.</summary>
    public string? Password { get; set; }

    /// <summary>How long the broker keeps the subscriber's session (and its queued frames) while it is away.</summary>
    public TimeSpan SessionExpiry { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Messages processed at once, and the MQTT 5 receive maximum the subscriber asks the external
    /// broker for: the broker holds further messages until some are acknowledged (back-pressure). The
    /// subscriber also reads at most this many messages ahead of processing, so a broker that sends
    /// beyond the receive maximum is held back by TCP instead of filling the silo's memory.
    /// </summary>
    public int MaxInFlight { get; set; } = 2048;

    /// <summary>
    /// Receive and send buffer of the subscriber's socket to an external broker. The client library's
    /// default (8 KiB) fixes the TCP receive window that small: the broker then trickles messages at a
    /// few dozen per second whatever the silo's speed. The kernel caps the value at
    /// <c>net.core.rmem_max</c>/<c>wmem_max</c>.
    /// </summary>
    public int SocketBufferBytes { get; set; } = 4_194_304;

    /// <summary>No longer used: <see cref="MaxInFlight"/> replaced the lanes. Still accepted so existing settings keep working.</summary>
    public int Lanes { get; set; } = 64;

    /// <summary>No longer used: <see cref="MaxInFlight"/> replaced the lanes. Still accepted so existing settings keep working.</summary>
    public int LaneCapacity { get; set; } = 256;

    /// <summary>
    /// Largest payload accepted. The JSON format allows 600 samples (about 250 KB) and binary frames are
    /// at most 65,556 bytes each, several of which may share one message. A larger payload is
    /// dead-lettered with its first <see cref="MaxPayloadBytes"/> bytes.
    /// </summary>
    public int MaxPayloadBytes { get; set; } = 1_048_576;

    /// <summary>
    /// Embedded broker: most client connections at once (each holds a file descriptor); a connection beyond them is
    /// closed as it is accepted and counted (<c>tooManyConnections</c>). 0: the process's open-file limit less
    /// <see cref="ReservedFileDescriptors"/>, so that the journal, the databases, the API and the cluster keep the files
    /// they need.
    /// </summary>
    public int MaxConnections { get; set; }

    /// <summary>File descriptors kept for everything but terminal connections when <see cref="MaxConnections"/> is derived.</summary>
    public const int ReservedFileDescriptors = 1024;

    /// <summary>Attempts of a vehicle grain call before the message is dead-lettered as <c>processingFailed</c>.</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>Delay before the first retry of a grain call; it doubles per retry, at most 5 s.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Samples further ahead of their receipt than this are refused (<c>inFuture</c>), so no one can pre-empt a truck's real data.</summary>
    public TimeSpan MaxFutureSkew { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>At stop, how long messages in flight may take to finish and be acknowledged.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Embedded broker: a second listener on this port that speaks MQTT over TLS (0: none). Needs
    /// <see cref="CertificatePath"/>. Terminals authenticate on it as on <see cref="Port"/>.
    /// </summary>
    public int TlsPort { get; set; }

    /// <summary>
    /// The embedded broker's TLS certificate: a PEM file (with <see cref="CertificateKeyPath"/>, or the key in the same
    /// file) or a PKCS#12 file (<c>.pfx</c>/<c>.p12</c>, with <see cref="CertificatePassword"/> when it has one).
    /// </summary>
    public string? CertificatePath { get; set; }

    /// <summary>The PEM private key of <see cref="CertificatePath"/>, when it is a separate file.</summary>
    public string? CertificateKeyPath { get; set; }

    /// <summary>The password of a PKCS#12 <see cref="CertificatePath"/>.</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>External mode: connect to the broker over TLS (the broker's TLS port in <see cref="Port"/>).</summary>
    public bool UseTls { get; set; }

    /// <summary>
    /// External mode with <see cref="UseTls"/>: a PEM file of the certificate authority that signed the broker's
    /// certificate, trusted for this connection only; empty: the system's trusted roots.
    /// </summary>
    public string? CaCertificatePath { get; set; }

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
        if (MaxInFlight is < 1 or > 65535)
        {
            yield return $"{Section}:MaxInFlight {MaxInFlight} must be between 1 and 65535.";
        }
        if (SocketBufferBytes is < 4096 or > 268_435_456)
        {
            yield return $"{Section}:SocketBufferBytes {SocketBufferBytes} must be between 4096 and 268435456.";
        }
        if (MaxPayloadBytes is < 26 or > 16_000_000)
        {
            yield return $"{Section}:MaxPayloadBytes {MaxPayloadBytes} must be between 26 and 16000000.";
        }
        if (MaxConnections is < 0 or > 10_000_000)
        {
            yield return $"{Section}:MaxConnections {MaxConnections} must be between 0 (from the open-file limit) and 10000000.";
        }
        if (MaxAttempts is < 1 or > 100)
        {
            yield return $"{Section}:MaxAttempts {MaxAttempts} must be between 1 and 100.";
        }
        if (RetryDelay < TimeSpan.Zero || RetryDelay > TimeSpan.FromMinutes(1))
        {
            yield return $"{Section}:RetryDelay {RetryDelay} must be between 0 and 1 minute.";
        }
        if (MaxFutureSkew < TimeSpan.Zero)
        {
            yield return $"{Section}:MaxFutureSkew {MaxFutureSkew} must not be negative.";
        }
        if (DrainTimeout < TimeSpan.Zero)
        {
            yield return $"{Section}:DrainTimeout {DrainTimeout} must not be negative.";
        }
        if (SessionExpiry < TimeSpan.Zero || SessionExpiry.TotalSeconds > uint.MaxValue)
        {
            yield return $"{Section}:SessionExpiry {SessionExpiry} must be a non-negative duration.";
        }
        if (TlsPort is < 0 or > 65535 || (TlsPort != 0 && TlsPort == Port))
        {
            yield return $"{Section}:TlsPort {TlsPort} must be 0 (no TLS listener) or a TCP port other than {Section}:Port.";
        }
        if (TlsPort != 0 && string.IsNullOrWhiteSpace(CertificatePath))
        {
            yield return $"{Section}:TlsPort {TlsPort} needs {Section}:CertificatePath (PEM or PKCS#12).";
        }
        foreach (var (name, path) in new[] { ("CertificatePath", CertificatePath), ("CertificateKeyPath", CertificateKeyPath), ("CaCertificatePath", CaCertificatePath) })
        {
            if (!string.IsNullOrWhiteSpace(path) && !File.Exists(path))
            {
                yield return $"{Section}:{name} '{path}' does not exist.";
            }
        }
    }

    /// <summary>Loads the embedded broker's TLS certificate with its private key (see <see cref="CertificatePath"/>).</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2 LoadCertificate()
    {
        var path = CertificatePath ?? throw new InvalidOperationException($"{Section}:CertificatePath is not set.");
        var extension = Path.GetExtension(path);
        if (extension.Equals(".pfx", StringComparison.OrdinalIgnoreCase) || extension.Equals(".p12", StringComparison.OrdinalIgnoreCase))
        {
            return System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(path, CertificatePassword);
        }
        using var pem = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(path, string.IsNullOrWhiteSpace(CertificateKeyPath) ? null : CertificateKeyPath);
        // A key loaded from PEM is ephemeral; exported and loaded again it works with SslStream on every platform.
        return System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(
            pem.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12), null);
    }

    /// <summary>
    /// Largest MQTT packet the embedded broker reads: a payload of <see cref="MaxPayloadBytes"/> with room for its
    /// topic (at most 65,535 bytes by the protocol) and properties. A client that announces a larger packet is
    /// disconnected before its body is read.
    /// </summary>
    public int MaxPacketBytes => MaxPayloadBytes + 70_000;

    /// <summary>
    /// <see cref="MaxConnections"/>, or when 0 the soft open-file limit of this process (<c>/proc/self/limits</c>) less
    /// <see cref="ReservedFileDescriptors"/>, at least 64; 1,000,000 where the limit cannot be read or is unlimited.
    /// </summary>
    public int EffectiveMaxConnections(string limitsPath = "/proc/self/limits")
    {
        if (MaxConnections > 0)
            return MaxConnections;
        var limit = OpenFileLimit(limitsPath);
        return limit is { } files ? (int)Math.Clamp(files - ReservedFileDescriptors, 64, 1_000_000) : 1_000_000;
    }

    /// <summary>The soft "Max open files" of a <c>/proc/*/limits</c> file; null when absent, unreadable or unlimited.</summary>
    internal static long? OpenFileLimit(string limitsPath)
    {
        try
        {
            foreach (var line in File.ReadLines(limitsPath))
            {
                if (!line.StartsWith("Max open files", StringComparison.Ordinal))
                    continue;
                var parts = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return parts.Length > 0 && long.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var soft)
                    ? soft : null;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return null;
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
