using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// MQTT over TLS: the embedded broker's TLS listener, and the subscriber connecting to mosquitto's TLS listener,
/// with a certificate made for the test (a self-signed one, its own authority).
/// </summary>
[Trait("Category", "Integration")]
public sealed class TlsTests : IDisposable
{
    private const string Vin = "LTLS0000000000001";
    private readonly string _dir = Directory.CreateTempSubdirectory("telemetry-tls-").FullName;

    /// <summary>A self-signed certificate for 127.0.0.1 and localhost, written as PEM certificate and key files.</summary>
    private (X509Certificate2 Certificate, string CertPath, string KeyPath) MakeCertificate(string name = "broker")
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=telemetry test broker", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certPath = Path.Combine(_dir, $"{name}.crt");
        var keyPath = Path.Combine(_dir, $"{name}.key");
        File.WriteAllText(certPath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (X509CertificateLoader.LoadCertificate(certificate.RawData), certPath, keyPath);
    }

    [Fact]
    public async Task EmbeddedBroker_TlsListener_TakesFramesOverTls_AndRefusesPlainAndUntrustedClients()
    {
        var ct = TestContext.Current.CancellationToken;
        var (certificate, certPath, keyPath) = MakeCertificate();
        var (other, _, _) = MakeCertificate("other");
        var tlsPort = FreePort.Next();
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null, new Dictionary<string, string>
        {
            ["Telemetry:Mqtt:AllowAnonymous"] = "true",
            ["Telemetry:Mqtt:TlsPort"] = tlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Telemetry:Mqtt:CertificatePath"] = certPath,
            ["Telemetry:Mqtt:CertificateKeyPath"] = keyPath,
        });

        await using (var terminal = await TestPublisher.ConnectAsync("127.0.0.1", tlsPort, null, null, certificate, ct))
            await terminal.PublishAsync($"hdv/{Vin}/gb17691", DeviceAccessTests.Frame(Vin, DeviceAccessTests.RecentSecond()), ct);
        await Eventually.WaitAsync(() => silo.Ingest.Totals.Decoded == 1, TimeSpan.FromSeconds(30), "the frame sent over TLS is stored", ct);

        // Plain MQTT on the TLS port, and a client that does not trust the broker's certificate: no session.
        await Assert.ThrowsAnyAsync<Exception>(() => TestPublisher.ConnectAsync("127.0.0.1", tlsPort, ct));
        await Assert.ThrowsAnyAsync<Exception>(() => TestPublisher.ConnectAsync("127.0.0.1", tlsPort, null, null, other, ct));
        Assert.Equal(1, silo.Ingest.Totals.Decoded);
    }

    [Fact]
    public async Task Subscriber_ConnectsToMosquittosTlsListener_WithTheNamedAuthority()
    {
        var ct = TestContext.Current.CancellationToken;
        var (certificate, certPath, keyPath) = MakeCertificate();
        var tlsPort = FreePort.Next();
        await using var broker = await MosquittoServer.StartAsync(new MosquittoOptions
        {
            ExtraConfigLines = [$"listener {tlsPort} 127.0.0.1", $"certfile {certPath}", $"keyfile {keyPath}"],
        }, ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null, new Dictionary<string, string>
        {
            ["Telemetry:Mqtt:Port"] = tlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Telemetry:Mqtt:UseTls"] = "true",
            ["Telemetry:Mqtt:CaCertificatePath"] = certPath,
        });

        await using (var terminal = await TestPublisher.ConnectAsync("127.0.0.1", tlsPort, null, null, certificate, ct))
            await terminal.PublishAsync($"hdv/{Vin}/gb17691", DeviceAccessTests.Frame(Vin, DeviceAccessTests.RecentSecond()), ct);

        await Eventually.WaitAsync(() => silo.Ingest.Totals.Decoded == 1, TimeSpan.FromSeconds(30), "the subscriber on the TLS listener stores the frame", ct);
    }

    [Fact]
    public void TlsSettings_AreValidated_WithSentencesNamingThem()
    {
        var missing = Path.Combine(_dir, "missing.pem");
        var errors = new Telemetry.Ingest.MqttIngestOptions { TlsPort = 1883 }.Validate().ToList();
        Assert.Contains("Telemetry:Mqtt:TlsPort 1883 must be 0 (no TLS listener) or a TCP port other than Telemetry:Mqtt:Port.", errors);
        Assert.Contains("Telemetry:Mqtt:TlsPort 1883 needs Telemetry:Mqtt:CertificatePath (PEM or PKCS#12).", errors);
        Assert.Contains($"Telemetry:Mqtt:CaCertificatePath '{missing}' does not exist.",
            new Telemetry.Ingest.MqttIngestOptions { UseTls = true, CaCertificatePath = missing }.Validate());
        Assert.Empty(new Telemetry.Ingest.MqttIngestOptions().Validate());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
