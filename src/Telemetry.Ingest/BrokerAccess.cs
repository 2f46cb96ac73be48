using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Telemetry.Abstractions;
using Telemetry.Storage.Cases;

namespace Telemetry.Ingest;

/// <summary>
/// Who may connect to the embedded broker and what a connection may do: devices can only speak for themselves.
/// A terminal connects with its VIN as user name and its secret as password (checked against the
/// <see cref="DeviceCredentialStore"/>), may publish only under <c>{prefix}/{its VIN}/...</c>, never retained, and
/// may subscribe to nothing. Without a user name a client is refused unless <see cref="MqttIngestOptions.AllowAnonymous"/>.
/// An operator (user name <see cref="OperatorUser"/>, an API key of the admin role as password) may publish under any
/// VIN: the CLI's <c>replay</c> of an archive and the simulator's runs, which carry many VINs on one connection.
/// A VIN holds one connection and one session: a new connection of the VIN closes the earlier one, and no other client
/// may take over a device's session by using its client id. Every refusal is
/// counted by reason (<see cref="IngestMetrics"/>); secrets are never logged.
/// </summary>
public sealed partial class BrokerAccess(MqttIngestOptions options, DeviceCredentialStore? credentials, IngestMetrics metrics, ILogger logger,
    ApiKeyStore? apiKeys = null)
{
    /// <summary>
    /// User name of an operator's connection (not a VIN: '@' is outside the VIN alphabet). Its password is an API key of
    /// the admin role, checked when it connects; it may publish under any VIN of the prefix, and subscribe to nothing.
    /// </summary>
    public const string OperatorUser = "@operator";

    // The client id of each VIN's one session (connected, or kept for its reconnection).
    private readonly ConcurrentDictionary<string, string> _sessionOfVin = new(StringComparer.Ordinal);
    // The VIN that owns each device session: its client id cannot be taken over by anyone else.
    private readonly ConcurrentDictionary<string, string> _vinOfClient = new(StringComparer.Ordinal);
    private readonly string _prefix = options.TopicPrefix + "/";
    private MqttServer? _server;

    /// <summary>Hooks connection validation, subscription interception, the CONNACK and the session bookkeeping into <paramref name="server"/>.</summary>
    public void Attach(MqttServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        _server = server;
        server.ValidatingConnectionAsync += ValidateConnectionAsync;
        server.InterceptingSubscriptionAsync += InterceptSubscriptionAsync;
        server.InterceptingOutboundPacketAsync += AnnounceLimitsAsync;
        server.ClientConnectedAsync += OnConnectedAsync;
        server.ClientDisconnectedAsync += OnDisconnectedAsync;
        server.SessionDeletedAsync += OnSessionDeletedAsync;
    }

    /// <summary>
    /// Accepts a device whose VIN and secret match an active credential, or an anonymous client when allowed, unless
    /// its client id holds another VIN's session.
    /// </summary>
    public async Task ValidateConnectionAsync(ValidatingConnectionEventArgs e)
    {
        ArgumentNullException.ThrowIfNull(e);
        string kind;
        if (string.IsNullOrEmpty(e.UserName))
        {
            if (!options.AllowAnonymous)
            {
                Refuse(e, MqttConnectReasonCode.NotAuthorized, "anonymous");
                return;
            }
            kind = "anonymous";
        }
        else if (e.UserName == OperatorUser)
        {
            if (await CheckOperatorAsync(e) is { } refused)
            {
                Refuse(e, refused.Code, refused.Reason);
                return;
            }
            kind = "operator";
        }
        else if (await CheckDeviceAsync(e) is { } refusal)
        {
            Refuse(e, refusal.Code, refusal.Reason);
            return;
        }
        else
        {
            kind = "device";
        }
        if (!string.IsNullOrEmpty(e.ClientId) && _vinOfClient.TryGetValue(e.ClientId, out var owner) && owner != e.UserName)
        {
            // MQTT would hand the session to the newcomer and disconnect the device: no one takes over a device's session.
            Refuse(e, MqttConnectReasonCode.ClientIdentifierNotValid, "clientIdTaken");
            return;
        }
        metrics.BrokerConnected(kind);
    }

    /// <summary>Null when the password is an active API key of the admin role; otherwise the refusal.</summary>
    private async Task<(MqttConnectReasonCode Code, string Reason)?> CheckOperatorAsync(ValidatingConnectionEventArgs e)
    {
        if (apiKeys is null)
        {
            return (MqttConnectReasonCode.ServerUnavailable, "credentialsUnavailable");
        }
        try
        {
            var key = string.IsNullOrEmpty(e.Password) ? null : await apiKeys.VerifyAsync(e.Password, e.CancellationToken);
            return key?.Role == ApiRoles.Admin ? null : (MqttConnectReasonCode.BadUserNameOrPassword, "badOperatorKey");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.CredentialsUnavailable(logger, ex);
            return (MqttConnectReasonCode.ServerUnavailable, "credentialsUnavailable");
        }
    }

    /// <summary>Null when the user name is a VIN with an active credential and the password its secret; otherwise the refusal.</summary>
    private async Task<(MqttConnectReasonCode Code, string Reason)?> CheckDeviceAsync(ValidatingConnectionEventArgs e)
    {
        if (credentials is null)
        {
            return (MqttConnectReasonCode.ServerUnavailable, "credentialsUnavailable");
        }
        DeviceCheck check;
        try
        {
            check = await credentials.VerifyAsync(e.UserName, e.Password, e.CancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.CredentialsUnavailable(logger, ex);
            return (MqttConnectReasonCode.ServerUnavailable, "credentialsUnavailable");
        }
        return check switch
        {
            DeviceCheck.Accepted => null,
            // The secret was right: say why, so the terminal's operator knows.
            DeviceCheck.Revoked => (MqttConnectReasonCode.Banned, "revoked"),
            DeviceCheck.BadSecret => (MqttConnectReasonCode.BadUserNameOrPassword, "badSecret"),
            _ => (MqttConnectReasonCode.BadUserNameOrPassword, "unknownDevice"),
        };
    }

    /// <summary>
    /// True when the publish may go to the pipeline. Otherwise it is answered (MQTT 5 PUBACK reason), counted and
    /// dropped: a topic outside the prefix, another VIN's topic, or a retained message.
    /// </summary>
    public bool MayPublish(InterceptingPublishEventArgs e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var topic = e.ApplicationMessage.Topic;
        string? reason = null;
        if (!topic.StartsWith(_prefix, StringComparison.Ordinal))
        {
            reason = "outsidePrefix";
        }
        else if (!string.IsNullOrEmpty(e.UserName) && e.UserName != OperatorUser && !VinLevel(topic).SequenceEqual(e.UserName.AsSpan()))
        {
            reason = "foreignVin";
        }
        else if (e.ApplicationMessage.Retain)
        {
            reason = "retained";
        }
        if (reason is null)
        {
            return true;
        }
        e.ProcessPublish = false;
        e.Response.ReasonCode = reason == "retained" ? MqttPubAckReasonCode.ImplementationSpecificError : MqttPubAckReasonCode.NotAuthorized;
        e.Response.ReasonString = reason switch
        {
            "retained" => "Retained messages are not accepted.",
            "foreignVin" => "A device publishes only under its own VIN.",
            _ => $"Publish under {_prefix}{{vin}}/{{format}}.",
        };
        metrics.BrokerRefused(reason);
        Log.PublishRefused(logger, e.ClientId, reason);
        return false;
    }

    private ReadOnlySpan<char> VinLevel(string topic)
    {
        var rest = topic.AsSpan(_prefix.Length);
        var slash = rest.IndexOf('/');
        return slash < 0 ? rest : rest[..slash];
    }

    /// <summary>Refuses every subscription: terminal messages are taken by the broker itself, nothing is distributed.</summary>
    public Task InterceptSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        ArgumentNullException.ThrowIfNull(e);
        e.ProcessSubscription = false;
        e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
        e.Response.ReasonString = "This broker distributes nothing; subscriptions are refused.";
        metrics.BrokerRefused("subscribe");
        Log.SubscriptionRefused(logger, e.ClientId);
        return Task.CompletedTask;
    }

    /// <summary>Tells MQTT 5 clients in the CONNACK that retained messages are not available and how large a packet may be.</summary>
    private Task AnnounceLimitsAsync(InterceptingPacketEventArgs e)
    {
        if (e.Packet is MqttConnAckPacket connAck)
        {
            connAck.RetainAvailable = false;
            connAck.MaximumPacketSize = (uint)options.MaxPacketBytes;
        }
        return Task.CompletedTask;
    }

    private async Task OnConnectedAsync(ClientConnectedEventArgs e)
    {
        if (string.IsNullOrEmpty(e.UserName) || !Vin.IsValid(e.UserName))
        {
            return;
        }
        if (!string.IsNullOrEmpty(e.ClientId))
        {
            _vinOfClient[e.ClientId] = e.UserName;
        }
        string? previous = null;
        _sessionOfVin.AddOrUpdate(e.UserName, e.ClientId, (_, old) =>
        {
            previous = old;
            return e.ClientId;
        });
        if (string.IsNullOrEmpty(previous) || previous == e.ClientId)
        {
            return;
        }
        // One session per VIN: the newer connection wins (a terminal that reconnects under a new client id while its
        // old connection is still half-open must not be locked out).
        metrics.BrokerRefused("sessionReplaced");
        Log.SessionReplaced(logger, e.UserName);
        try
        {
            // Its disconnection (below) deletes its session.
            await _server!.DisconnectClientAsync(previous, new MqttServerClientDisconnectOptions { ReasonCode = MqttDisconnectReasonCode.SessionTakenOver });
        }
        catch (InvalidOperationException)
        {
            // Not connected: only its kept session is left.
            await DeleteSessionAsync(previous);
        }
    }

    /// <summary>
    /// Closes the connections of devices revoked at or after <paramref name="sinceUtc"/> and deletes their sessions
    /// (revocation is otherwise checked when a device connects).
    /// </summary>
    public async Task CloseRevokedAsync(DateTime sinceUtc, CancellationToken cancellationToken)
    {
        if (credentials is null || _server is null)
        {
            return;
        }
        foreach (var vin in await credentials.RevokedSinceAsync(sinceUtc, cancellationToken))
        {
            if (!_sessionOfVin.TryGetValue(vin, out var clientId) || clientId.Length == 0)
            {
                continue;
            }
            // No session of this VIN is current any more: its disconnection (below) deletes it.
            _sessionOfVin[vin] = "";
            try
            {
                await _server.DisconnectClientAsync(clientId, new MqttServerClientDisconnectOptions { ReasonCode = MqttDisconnectReasonCode.NotAuthorized });
                metrics.BrokerRefused("revokedWhileConnected");
                Log.RevokedClosed(logger, vin);
            }
            catch (InvalidOperationException)
            {
                // Not connected: only its kept session is left.
                await DeleteSessionAsync(clientId);
            }
        }
    }

    private async Task OnDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        if (string.IsNullOrEmpty(e.UserName) || !Vin.IsValid(e.UserName))
        {
            return;
        }
        if (_sessionOfVin.TryGetValue(e.UserName, out var current) && current != e.ClientId)
        {
            await DeleteSessionAsync(e.ClientId);
        }
    }

    private Task OnSessionDeletedAsync(SessionDeletedEventArgs e)
    {
        if (e.Id is { Length: > 0 } id && _vinOfClient.TryRemove(id, out var vin))
        {
            _sessionOfVin.TryRemove(new KeyValuePair<string, string>(vin, id));
        }
        return Task.CompletedTask;
    }

    private async Task DeleteSessionAsync(string clientId)
    {
        try
        {
            var session = await _server!.GetSessionAsync(clientId);
            await session.DeleteAsync();
        }
        catch (InvalidOperationException)
        {
            // No such session (it was not kept).
        }
    }

    private void Refuse(ValidatingConnectionEventArgs e, MqttConnectReasonCode code, string reason)
    {
        e.ReasonCode = code;
        metrics.BrokerConnectionRefused(reason);
        if (logger.IsEnabled(LogLevel.Debug))
        {
            // The user name is logged only when it is a VIN: anything else a client sends stays out of the log.
            var endpoint = e.RemoteEndPoint?.ToString() ?? "?";
            var user = Vin.IsValid(e.UserName ?? "") ? e.UserName! : "-";
            Log.ConnectionRefused(logger, endpoint, user, reason);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2010, Level = LogLevel.Debug, Message = "Refused MQTT connection from {Endpoint} (user {User}): {Reason}")]
        public static partial void ConnectionRefused(ILogger logger, string endpoint, string user, string reason);

        [LoggerMessage(EventId = 2011, Level = LogLevel.Debug, Message = "Refused a publish of client {ClientId}: {Reason}")]
        public static partial void PublishRefused(ILogger logger, string clientId, string reason);

        [LoggerMessage(EventId = 2012, Level = LogLevel.Debug, Message = "Refused a subscription of client {ClientId}")]
        public static partial void SubscriptionRefused(ILogger logger, string clientId);

        [LoggerMessage(EventId = 2013, Level = LogLevel.Information, Message = "Device {Vin} connected again; its earlier connection is closed")]
        public static partial void SessionReplaced(ILogger logger, string vin);

        [LoggerMessage(EventId = 2015, Level = LogLevel.Information, Message = "Device {Vin} was revoked; its connection is closed")]
        public static partial void RevokedClosed(ILogger logger, string vin);

        [LoggerMessage(EventId = 2014, Level = LogLevel.Warning, Message = "Device credentials cannot be checked; connections are refused until the database answers")]
        public static partial void CredentialsUnavailable(ILogger logger, Exception exception);
    }
}
