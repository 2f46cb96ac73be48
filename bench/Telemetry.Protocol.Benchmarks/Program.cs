using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using Telemetry.Protocol.Benchmarks;

if (args is ["--interleaved", var oldDirectory, var newDirectory, var method])
{
    Interleaved.Run(oldDirectory, newDirectory, method);
    return;
}

// Min and median next to the mean: on a shared, busy machine they say more than the mean does.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly)
    .Run(args, DefaultConfig.Instance.AddColumn(StatisticColumn.Min, StatisticColumn.Median));
