using System.Diagnostics;

namespace Telemetry.Testing;

/// <summary>Polls a condition until it holds or a deadline passes: the way tests wait for servers.</summary>
public static class Eventually
{
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan LongestPause = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Waits until <paramref name="condition"/> returns true. Exceptions thrown by the condition
    /// count as "not yet" and the last one is attached to the failure.
    /// </summary>
    /// <param name="condition">What must become true.</param>
    /// <param name="timeout">How long to keep trying.</param>
    /// <param name="because">What is awaited, completing "Timed out after N s waiting until ...".</param>
    /// <param name="cancellationToken">Stops waiting early.</param>
    /// <exception cref="EventuallyTimeoutException">The condition did not hold in time.</exception>
    public static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, string because, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        await UntilAsync(async () => (await condition()) ? new Box<bool>(true) : null, timeout, because, () => "", cancellationToken);
    }

    /// <summary>Waits until the synchronous <paramref name="condition"/> returns true.</summary>
    public static Task WaitAsync(Func<bool> condition, TimeSpan timeout, string because, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return WaitAsync(() => Task.FromResult(condition()), timeout, because, cancellationToken);
    }

    /// <summary>
    /// Probes a value until <paramref name="done"/> accepts it and returns that value. The failure
    /// message shows the last value probed, formatted by <paramref name="describe"/>.
    /// </summary>
    public static async Task<T> WaitForAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string because,
        Func<T, string>? describe = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(done);
        Box<T>? last = null;
        var result = await UntilAsync(async () =>
        {
            var value = await probe();
            last = new Box<T>(value);
            return done(value) ? last : null;
        }, timeout, because, () => last is null ? "" : $" Last value: {(describe ?? (v => v?.ToString() ?? "null"))(last.Value)}.", cancellationToken);
        return result.Value;
    }

    private sealed record Box<T>(T Value);

    private static async Task<TResult> UntilAsync<TResult>(Func<Task<TResult?>> attempt, TimeSpan timeout, string because,
        Func<string> describeLast, CancellationToken cancellationToken)
        where TResult : class
    {
        var clock = Stopwatch.StartNew();
        var pause = FirstPause;
        Exception? lastError = null;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                var result = await attempt();
                if (result is not null)
                    return result;
                lastError = null;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                lastError = ex;
            }

            if (clock.Elapsed >= timeout)
                break;
            var remaining = timeout - clock.Elapsed;
            await Task.Delay(pause < remaining ? pause : remaining, cancellationToken);
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, LongestPause.Ticks));
        }

        var message = $"Timed out after {timeout.TotalSeconds:0.###} s waiting until {because}.{describeLast()}";
        if (lastError is not null)
            message += $" Last error: {lastError.GetType().Name}: {lastError.Message}";
        throw new EventuallyTimeoutException(message, lastError);
    }
}

/// <summary>A condition awaited by <see cref="Eventually"/> did not hold before the deadline.</summary>
public sealed class EventuallyTimeoutException : Exception
{
    public EventuallyTimeoutException() { }

    public EventuallyTimeoutException(string message) : base(message) { }

    public EventuallyTimeoutException(string message, Exception? innerException) : base(message, innerException) { }
}
