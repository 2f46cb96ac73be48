using System.Security.Cryptography;
using System.Text;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace Telemetry.Silo;

/// <summary>
/// Grain state on local disk, for the single-machine (localhost clustering) installation: one file
/// per grain under <c>{directory}/{grain type}/{2 hex}/{key}.state</c>, written to a temporary file and
/// renamed over the old one, so a kill -9 leaves either the old or the new state, never a torn one.
/// No fsync: a process crash keeps what was written (the page cache survives it), a power cut may
/// lose the last saves (the journal covers the samples; see its README).
/// </summary>
public sealed class FileGrainStorage(string directory, Serializer serializer) : IGrainStorage
{
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var path = PathOf(stateName, grainId);
        if (!File.Exists(path))
        {
            grainState.RecordExists = false;
            return;
        }
        var bytes = await File.ReadAllBytesAsync(path);
        grainState.State = serializer.Deserialize<T>(bytes);
        grainState.RecordExists = true;
        grainState.ETag = File.GetLastWriteTimeUtc(path).Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var path = PathOf(stateName, grainId);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var bytes = serializer.SerializeToArray(grainState.State);
        var temp = path + ".tmp";
        await File.WriteAllBytesAsync(temp, bytes);
        File.Move(temp, path, overwrite: true);
        grainState.RecordExists = true;
        grainState.ETag = File.GetLastWriteTimeUtc(path).Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        File.Delete(PathOf(stateName, grainId));
        grainState.RecordExists = false;
        grainState.ETag = null;
        return Task.CompletedTask;
    }

    private string PathOf(string stateName, GrainId grainId)
    {
        var key = grainId.Key.ToString();
        var safe = key.Length is > 0 and <= 64 && key.All(char.IsAsciiLetterOrDigit) ? key : Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        var bucket = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)).AsSpan(0, 1));
        return Path.Combine(directory, Sanitize(grainId.Type.ToString()!) + "-" + Sanitize(stateName), bucket, safe + ".state");
    }

    private static string Sanitize(string name) => string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_'));
}
