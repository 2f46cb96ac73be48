using System.Diagnostics;

namespace Telemetry.Grains;

/// <summary>
/// Spans of the vehicle grain (activity source <see cref="SourceName"/>): <c>vehicle ingest</c> per batch, a child
/// of Orleans' span of the grain call and so of the ingest span of the message it came in. Created only while a
/// listener is registered.
/// </summary>
public static class GrainTracing
{
    /// <summary>Name of the activity source.</summary>
    public const string SourceName = "Telemetry.Grains";

    internal static readonly ActivitySource Source = new(SourceName);
}
