using Telemetry.Detection.Internal;
using Telemetry.Detection.Rules;

namespace Telemetry.Detection;

/// <summary>
/// Reads detector state written by schema version 1, which saved rule state as one positional list
/// of numbers and one of texts, in the fixed rule order of that release. Each rule's part is turned
/// into its typed state; parts version 1 did not save (averages, R5, the invalid-field window)
/// start empty.
/// </summary>
internal static class StateMigration
{
    /// <summary>Rule order of schema version 1 (also the meaning of its ledger indices).</summary>
    public static readonly string[] V1Order =
    [
        "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9.offline", "R9.position", "R9.jump", "R9.clock", "R9.fields",
        "R9.checkcode", "R9.removal", "Z",
    ];

    public static void LoadV1Rules(RuleRegistry rules, double[]? numbers, string[]? texts)
    {
        var bag = new Reader(numbers ?? [], texts ?? []);
        foreach (var id in V1Order)
        {
            switch (rules.Find(id))
            {
                case R1NoxConcentration r1:
                    bag.Window(r1.Current.Window);
                    break;
                case R2SpecificNox r2:
                {
                    var st = r2.Current;
                    st.SubCount = Math.Clamp((int)bag.Number(0), 0, st.SubMass.Length);
                    st.SubNext = Math.Clamp((int)bag.Number(0), 0, Math.Max(0, st.SubMass.Length - 1));
                    for (var i = 0; i < st.SubMass.Length; i++)
                    {
                        st.SubMass[i] = bag.Number(0);
                        st.SubWork[i] = bag.Number(0);
                        st.SubStart[i] = bag.Long();
                    }
                    st.CurrentMass = bag.Number(0);
                    st.CurrentWork = bag.Number(0);
                    st.CurrentStart = bag.Long();
                    st.LastSecond = bag.Long();
                    st.Result = bag.Number();
                    st.ResultWork = bag.Number(0);
                    st.ResultMass = bag.Number(0);
                    st.ResultSeconds = bag.Long(0);
                    break;
                }
                case R3ScrEfficiency r3:
                    bag.Window(r3.Current.Window);
                    r3.Current.LastHeldSecond = bag.Long();
                    break;
                case R4UreaTampering r4:
                {
                    var st = r4.Current;
                    st.ReferenceLevel = bag.Number();
                    st.FuelSinceChangeL = bag.Number(0);
                    bag.Number(); // the minimum level while driving: version 2 tracks an averaged level, rebuilt within a minute
                    st.StoppedSeconds = bag.Number(0);
                    st.EmptySeconds = bag.Number(0);
                    break;
                }
                case R6DpfRemoved r6:
                    r6.Current.SupportSeen = bag.Number(0) == 1;
                    bag.Window(r6.Current.Window);
                    break;
                case R7MilDriving r7:
                {
                    var st = r7.Current;
                    st.MilOn = bag.Number(0) == 1;
                    st.MilSecond = bag.Long();
                    st.Seconds = bag.Number(0);
                    st.Km = bag.Number(0);
                    break;
                }
                case R8ObdTampering r8:
                {
                    var st = r8.Current;
                    st.CalibrationId = bag.Text();
                    st.Cvn = bag.Text();
                    st.DtcCount = (int)bag.Number(-1);
                    st.Readiness = (ushort)bag.Number(0);
                    break;
                }
                case R9PositionInvalid p:
                    p.Current.Seconds = bag.Number(0);
                    p.Current.Since = bag.Long();
                    break;
                case R9PositionJump j:
                    j.Current.Longitude = bag.Number();
                    j.Current.Latitude = bag.Number(0);
                    j.Current.Second = bag.Long(0);
                    break;
                default:
                    // R5, the event rules, R9.fields and Z saved nothing in version 1.
                    break;
            }
        }
    }

    private sealed class Reader(double[] numbers, string[] texts)
    {
        private int _n;
        private int _t;

        public double Number(double fallback = double.NaN)
        {
            var v = _n < numbers.Length ? numbers[_n++] : double.NaN;
            return double.IsNaN(v) ? fallback : v;
        }

        public long Long(long fallback = long.MinValue)
        {
            var v = Number();
            return double.IsNaN(v) ? fallback : (long)v;
        }

        public string Text() => _t < texts.Length ? texts[_t++] : "";

        public void Window(WindowCounter window)
        {
            var count = (int)Number(0);
            var values = new double[Math.Max(0, count)];
            for (var i = 0; i < values.Length; i++)
                values[i] = Number();
            window.LoadV1(values);
        }
    }
}
