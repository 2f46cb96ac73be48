namespace Telemetry.Detection.Tests;

/// <summary>Deterministic sensor noise: real sensors never repeat a value bit for bit.</summary>
internal sealed class Noise(int seed)
{
    private readonly Random _rng = new(seed);

    /// <summary>A normal deviate with standard deviation <paramref name="sd"/>.</summary>
    public double Gauss(double sd)
    {
        var u1 = 1.0 - _rng.NextDouble();
        var u2 = _rng.NextDouble();
        return sd * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary><paramref name="value"/> plus noise, rounded to the field's resolution.</summary>
    public double Around(double value, double sd, double resolution = 0.05) => Math.Round((value + Gauss(sd)) / resolution) * resolution;

    public double Uniform() => _rng.NextDouble();
}
