using System.CommandLine;
using System.Globalization;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

// Where a process allocates: reads a dotnet-trace file recorded with `--profile gc-verbose` (the allocation
// tick the runtime raises about every 100 KB allocated, with the type and the call stack) and prints the bytes
// by type and by allocating call stack. bench/load/profile.sh runs it on its ALLOC_TRACE.
var traceArgument = new Argument<FileInfo>("trace") { Description = "A .nettrace file from dotnet-trace collect --profile gc-verbose." };
var topOption = new Option<int>("--top") { Description = "How many types and stacks to print.", DefaultValueFactory = _ => 15 };
var typeOption = new Option<string?>("--type") { Description = "Only the stacks that allocated this type, e.g. System.Byte[]." };
var depthOption = new Option<int>("--depth") { Description = "Frames printed per stack.", DefaultValueFactory = _ => 6 };
var root = new RootCommand("Allocated bytes by type and by call stack, from a gc-verbose trace.") { traceArgument, topOption, typeOption, depthOption };
root.SetAction(parse =>
{
    var trace = parse.GetValue(traceArgument)!;
    if (!trace.Exists)
    {
        Console.Error.WriteLine($"No such trace: {trace.FullName}");
        return 2;
    }
    var top = parse.GetValue(topOption);
    var depth = parse.GetValue(depthOption);
    if (top < 1 || depth < 1)
    {
        Console.Error.WriteLine("--top and --depth must be at least 1.");
        return 2;
    }
    Report(trace.FullName, top, depth, parse.GetValue(typeOption));
    return 0;
});
return root.Parse(args).Invoke();

static void Report(string path, int top, int depth, string? onlyType)
{
    using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(path));
    var byType = new Dictionary<string, long>(StringComparer.Ordinal);
    var byStack = new Dictionary<string, long>(StringComparer.Ordinal);
    long total = 0;
    var ticks = 0;
    foreach (var data in log.Events)
    {
        if (data is not GCAllocationTickTraceData tick)
            continue;
        ticks++;
        var bytes = tick.AllocationAmount64;
        var type = tick.TypeName ?? "?";
        total += bytes;
        byType[type] = byType.GetValueOrDefault(type) + bytes;
        if (onlyType is not null && type != onlyType)
            continue;
        var frames = new List<string>(depth + 1) { onlyType is null ? type : "" };
        for (var frame = data.CallStack(); frame is not null && frames.Count <= depth; frame = frame.Caller)
        {
            var method = frame.CodeAddress.FullMethodName;
            // The allocator's own frames say nothing about who asked for the memory.
            if (string.IsNullOrEmpty(method) || method.StartsWith("System.GC.", StringComparison.Ordinal))
                continue;
            frames.Add(method.Length > 140 ? method[..140] : method);
        }
        var key = string.Join("\n        <- ", frames.Where(f => f.Length > 0));
        byStack[key] = byStack.GetValueOrDefault(key) + bytes;
    }

    if (ticks == 0)
    {
        Console.WriteLine("No allocation ticks in this trace: record it with dotnet-trace collect --profile gc-verbose.");
        return;
    }
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{ticks:N0} allocation ticks, {total / 1e6:F1} MB sampled"));
    Console.WriteLine("== bytes by type");
    foreach (var (type, bytes) in byType.OrderByDescending(p => p.Value).Take(top))
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{100.0 * bytes / total,6:F1} %  {type}"));
    Console.WriteLine(onlyType is null ? "== bytes by type and allocating stack" : $"== bytes of {onlyType} by allocating stack");
    foreach (var (stack, bytes) in byStack.OrderByDescending(p => p.Value).Take(top))
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{100.0 * bytes / total,6:F1} %  {stack}"));
}
