using Microsoft.Extensions.Options;

namespace Telemetry.Abstractions;

/// <summary>
/// Turns an options class's <c>Validate()</c> sentences into a start-up failure: each sentence
/// names the bad setting, and the host stops with all of them.
/// </summary>
public sealed class SentenceValidator<T>(Func<T, IEnumerable<string>> validate) : IValidateOptions<T>
    where T : class
{
    public ValidateOptionsResult Validate(string? name, T options)
    {
        var errors = validate(options).ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
