using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Telemetry.Abstractions;
using Telemetry.Protocol;

namespace Telemetry.Ingest;

/// <summary>Host wiring of MQTT ingest.</summary>
public static class IngestServiceCollectionExtensions
{
    /// <summary>
    /// Adds the frame pipeline, the embedded broker (which takes terminal messages itself) when
    /// <see cref="MqttIngestOptions.Mode"/> is Embedded or the subscriber of an external broker, the
    /// payload decoder and the dead-letter file. Needs the journal (<c>AddTimeSeriesSink</c>) and, for the embedded broker's device
    /// credentials, the alert database (<c>AddAlertStore</c>). Settings are validated at start-up.
    /// </summary>
    public static IHostApplicationBuilder AddMqttIngest(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<MqttIngestOptions>().BindConfiguration(MqttIngestOptions.Section)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<MqttIngestOptions>>(new SentenceValidator<MqttIngestOptions>(o => o.Validate()));
        services.AddOptions<ProtocolOptions>().BindConfiguration(ProtocolOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ProtocolOptions>>(new SentenceValidator<ProtocolOptions>(o => o.Validate()));
        services.AddOptions<DeadLetterOptions>().BindConfiguration(DeadLetterOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<DeadLetterOptions>>(new SentenceValidator<DeadLetterOptions>(o => o.Validate()));

        services.AddSingleton(sp => new PayloadDecoder(sp.GetRequiredService<IOptions<ProtocolOptions>>().Value));
        services.AddSingleton<IngestMetrics>();
        services.AddSingleton<IDeadLetterSink, FileDeadLetterSink>();
        services.AddSingleton(sp =>
        {
            var pipeline = ActivatorUtilities.CreateInstance<FramePipeline>(sp);
            sp.GetRequiredService<IngestMetrics>().ObserveInFlight(() => pipeline.InFlight);
            return pipeline;
        });
        services.AddSingleton<EmbeddedBroker>();
        services.AddSingleton<MqttIngestService>();

        var mode = builder.Configuration.GetSection(MqttIngestOptions.Section).GetValue(nameof(MqttIngestOptions.Mode), BrokerMode.Embedded);
        if (mode == BrokerMode.Embedded)
        {
            services.AddHostedService(sp => sp.GetRequiredService<EmbeddedBroker>());
        }
        services.AddHostedService(sp => sp.GetRequiredService<MqttIngestService>());
        return builder;
    }
}
