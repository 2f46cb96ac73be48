using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;

namespace Telemetry.Protocol.Benchmarks;

/// <summary>
/// Times one <see cref="CodecBenchmarks"/> method of two builds of this project interleaved in one
/// process, so that a shared machine's load falls on both alike: each build's output folder is
/// loaded in its own <see cref="AssemblyLoadContext"/>, and slices of 2,000 calls alternate between
/// them (order flipped every round). Prints min, 10th percentile and median nanoseconds per call.
/// Usage: <c>--interleaved OLD_BIN_DIR NEW_BIN_DIR METHOD</c>.
/// </summary>
internal static class Interleaved
{
    private const int Rounds = 400;
    private const int CallsPerSlice = 2_000;

    public static void Run(string oldDirectory, string newDirectory, string method)
    {
        var runners = new[] { Load(oldDirectory, method), Load(newDirectory, method) };
        var perCall = new[] { new List<double>(), new List<double>() };
        for (var round = 0; round < Rounds; round++)
        {
            for (var k = 0; k < 2; k++)
            {
                var which = round % 2 == 0 ? k : 1 - k;
                var watch = Stopwatch.StartNew();
                for (var i = 0; i < CallsPerSlice; i++)
                    runners[which]();
                perCall[which].Add(watch.Elapsed.TotalNanoseconds / CallsPerSlice);
            }
        }
        for (var k = 0; k < 2; k++)
        {
            var sorted = perCall[k].Skip(20).Order().ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{(k == 0 ? "old" : "new")} {method}: min {sorted[0]:F1} ns, p10 {sorted[sorted.Length / 10]:F1} ns, median {sorted[sorted.Length / 2]:F1} ns"));
        }
    }

    private static Func<object?> Load(string directory, string method)
    {
        var context = new FolderContext(directory);
        var assembly = context.LoadFromAssemblyPath(Path.Combine(directory, "Telemetry.Protocol.Benchmarks.dll"));
        var type = assembly.GetType(typeof(CodecBenchmarks).FullName!) ?? throw new InvalidOperationException($"No CodecBenchmarks in {directory}.");
        var instance = Activator.CreateInstance(type)!;
        type.GetMethod(nameof(CodecBenchmarks.Setup))!.Invoke(instance, null);
        var target = type.GetMethod(method) ?? throw new InvalidOperationException($"No method {method} in {directory}.");
        var call = (Func<object?>)Delegate.CreateDelegate(typeof(Func<object?>), instance, target);
        for (var i = 0; i < 20_000; i++)
            call();
        return call;
    }

    private sealed class FolderContext(string directory) : AssemblyLoadContext(isCollectible: false)
    {
        protected override Assembly? Load(AssemblyName assemblyName)
        {
            // The project's own assemblies come from the folder; the runtime's are shared.
            var path = Path.Combine(directory, assemblyName.Name + ".dll");
            return assemblyName.Name is { } name && name.StartsWith("Telemetry.", StringComparison.Ordinal) && File.Exists(path)
                ? LoadFromAssemblyPath(path)
                : null;
        }
    }
}
