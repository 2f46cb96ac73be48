using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Telemetry.Testing;

/// <summary>Free loopback TCP ports for servers started by tests.</summary>
public static class FreePort
{
    // Every port handed out in this process: a port probed free but not yet bound (a child process binds it later)
    // would otherwise be handed out again by the next probe, and two servers would race for it.
    private static readonly ConcurrentDictionary<int, byte> HandedOut = new();

    /// <summary>
    /// A port that was free on 127.0.0.1 a moment ago and that this process never handed out before. Another
    /// process may take it before the server binds it: server fixtures retry with a new port when that happens.
    /// </summary>
    public static int Next() => Next(1)[0];

    /// <summary><paramref name="count"/> distinct free ports, none handed out before in this process.</summary>
    public static int[] Next(int count)
    {
        var ports = new List<int>(count);
        var listeners = new List<TcpListener>();
        try
        {
            // Holding every probe open until the end keeps the kernel from giving the same port twice in one call.
            for (var attempt = 0; ports.Count < count; attempt++)
            {
                if (attempt > 1000)
                    throw new InvalidOperationException($"No fresh loopback port after {attempt} attempts ({HandedOut.Count} handed out).");
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                listeners.Add(listener);
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                if (HandedOut.TryAdd(port, 0))
                    ports.Add(port);
            }

            return [.. ports];
        }
        finally
        {
            foreach (var listener in listeners)
                listener.Dispose();
        }
    }
}
