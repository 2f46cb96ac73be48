using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Protocol;
using Telemetry.Storage;
using Telemetry.Storage.Journal;

namespace Telemetry.Cli;

/// <summary>
/// <c>replay</c>: publishes the raw frames archived in a silo's journal (or a copy of it) to a broker
/// again, as their terminals sent them, optionally only a receive-time range or one VIN. Whatever was
/// already stored is dropped as a duplicate by the vehicle grains, so a replay never double-counts.
/// </summary>
internal static class ReplayCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var journal = new Option<string>("--journal", "-j") { Description = "Journal directory (Telemetry:Journal:Directory of a stopped silo, or a copy of it).", Required = true };
        var broker = new Option<string>("--broker", "-b") { Description = "Broker as host:port.", DefaultValueFactory = _ => "127.0.0.1:1883" };
        var from = new Option<DateTime?>("--from") { Description = "Only frames received at or after this UTC time (2026-11-30T08:00:00Z)." };
        var until = new Option<DateTime?>("--until") { Description = "Only frames received before this UTC time." };
        var vin = new Option<string?>("--vin") { Description = "Only frames of this VIN (its topic)." };
        var username = new Option<string?>("--username") { Description = "Broker user name (a silo's embedded broker: @operator, with an admin API key as password)." };
        var password = new Option<string?>("--password") { Description = "Broker password, or @FILE to read it from a file (such as @data/keys/admin.key)." };
        var command = new Command("replay", "Publish the raw frames archived in a journal to a broker again (QoS 1); the pipeline drops what it already stored.")
        {
            journal, broker, from, until, vin, username, password,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var hostPort = parse.GetValue(broker)!.Split(':');
            if (hostPort.Length != 2 || !int.TryParse(hostPort[1], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                await stderr.WriteLineAsync($"--broker '{parse.GetValue(broker)}' is not host:port.");
                return CliApp.UsageError;
            }
            var directory = parse.GetValue(journal)!;
            if (!Directory.Exists(directory))
            {
                await stderr.WriteLineAsync($"--journal '{directory}' is not a directory.");
                return CliApp.UsageError;
            }
            var filter = new ReplayFilter(
                parse.GetValue(from) is { } f ? f.ToUniversalTime() : DateTime.MinValue,
                parse.GetValue(until) is { } u ? u.ToUniversalTime() : DateTime.MaxValue,
                parse.GetValue(vin));
            var secret = parse.GetValue(password);
            if (secret is not null && secret.StartsWith('@'))
            {
                try
                {
                    secret = (await File.ReadAllTextAsync(secret[1..], cancellationToken)).Trim();
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    await stderr.WriteLineAsync($"--password: cannot read '{secret[1..]}': {ex.Message}");
                    return CliApp.UsageError;
                }
            }
            return await RunAsync(directory, hostPort[0], port, parse.GetValue(username), secret, filter, stdout, stderr, cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(string directory, string host, int port, string? username, string? password, ReplayFilter filter,
        TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        FileJournal opened;
        try
        {
            opened = new FileJournal(new JournalOptions { Directory = Path.GetFullPath(directory) }, NullLogger.Instance, new StorageMetrics(), TimeProvider.System);
        }
        catch (IOException ex)
        {
            await stderr.WriteLineAsync($"Cannot open the journal in {directory} ({ex.Message}). A running silo holds its journal: stop it, or copy the directory and replay the copy.");
            return CliApp.UsageError;
        }
        await using var source = opened;
        using var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId($"telemetry-replay-{Guid.NewGuid():N}")
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500);
        if (!string.IsNullOrEmpty(username))
        {
            options = options.WithCredentials(username, password);
        }
        try
        {
            var connected = await client.ConnectAsync(options.Build(), cancellationToken);
            if (connected.ResultCode != MqttClientConnectResultCode.Success)
            {
                // A silo's embedded broker admits one client for many VINs only with Telemetry:Mqtt:AllowAnonymous=true.
                await stderr.WriteLineAsync($"The broker at {host}:{port} refused the connection: {connected.ResultCode}. A silo's embedded broker takes a replay of many VINs from --username @operator --password @data/keys/admin.key (an admin API key), or from anyone with Telemetry:Mqtt:AllowAnonymous=true.");
                return CliApp.UsageError;
            }
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or TimeoutException)
        {
            await stderr.WriteLineAsync($"Cannot connect to the broker at {host}:{port}: {ex.Message}");
            return CliApp.UsageError;
        }

        long published = 0, skipped = 0, failed = 0;
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        using var inFlight = new SemaphoreSlim(256, 256);
        var pending = new List<Task>();
        await foreach (var record in source.ReadAsync(1, follow: false, cancellationToken))
        {
            if (record.Type != JournalRecordType.Frame || !ArchivedFrame.TryDecode(record.Payload.ToArray(), out var frame) || !filter.Matches(frame))
            {
                skipped += record.Type == JournalRecordType.Frame ? 1 : 0;
                continue;
            }
            await inFlight.WaitAsync(cancellationToken);
            var message = new MqttApplicationMessageBuilder().WithTopic(frame.Topic).WithPayload(frame.Payload.ToArray())
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
            pending.Add(PublishAsync(client, message, inFlight, () => Interlocked.Increment(ref published), () => Interlocked.Increment(ref failed), cancellationToken));
            if (pending.Count >= 4096)
            {
                pending.RemoveAll(t => t.IsCompleted);
            }
            if (clock.Elapsed - lastReport >= TimeSpan.FromSeconds(5))
            {
                lastReport = clock.Elapsed;
                await stderr.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"replayed {Interlocked.Read(ref published):N0} frames, up to {frame.ReceivedUtc:O}"));
            }
        }
        await Task.WhenAll(pending);
        await client.DisconnectAsync(cancellationToken: CancellationToken.None);
        await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"Replayed {published:N0} frames from {directory} to {host}:{port} in {clock.Elapsed.TotalSeconds:0.0} s ({skipped:N0} archived frames outside the filter, {failed:N0} not acknowledged)."));
        return failed == 0 ? CliApp.Success : CliApp.SomeRejected;
    }

    private static async Task PublishAsync(IMqttClient client, MqttApplicationMessage message, SemaphoreSlim inFlight, Action published, Action failed, CancellationToken cancellationToken)
    {
        try
        {
            var result = await client.PublishAsync(message, cancellationToken);
            if (result.IsSuccess || result.ReasonCode == MqttClientPublishReasonCode.NoMatchingSubscribers)
            {
                published();
            }
            else
            {
                failed();
            }
        }
        catch (MQTTnet.Exceptions.MqttCommunicationException)
        {
            failed();
        }
        finally
        {
            inFlight.Release();
        }
    }

    private sealed record class ReplayFilter(DateTime FromUtc, DateTime UntilUtc, string? Vin)
    {
        public bool Matches(ArchivedFrame frame) =>
            frame.ReceivedUtc >= FromUtc && frame.ReceivedUtc < UntilUtc
            && (Vin is null || frame.Topic.Contains($"/{Vin}/", StringComparison.Ordinal));
    }
}
