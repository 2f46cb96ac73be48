using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;
using Telemetry.Detection.Internal;
using Telemetry.Detection.Rules;

namespace Telemetry.Detection;

/// <summary>
/// The episodes of one timeline: the only owner of open / update / hysteresis / close / back-fill.
/// It consumes rule verdicts (<see cref="Hold"/>) and builds alerts from the rule's measurements;
/// rules never see it. At most one open episode per rule.
/// </summary>
internal sealed class Episodes
{
    private readonly Evaluator _timeline;
    private readonly VehicleDetector _owner;
    private readonly Rule[] _rules;
    private readonly long _hysteresis;
    private readonly long _updateInterval;
    private readonly Slot[] _slots;
    private int _openCount;
    // No open episode can expire before this second (a lower bound: CloseExpired skips the scan until then).
    private long _nextExpiry = long.MinValue;
    private List<AlertChange>? _sink;

    public Episodes(Evaluator timeline, VehicleDetector owner, Rule[] rules)
    {
        _timeline = timeline;
        _owner = owner;
        _rules = rules;
        _hysteresis = (long)Math.Ceiling(owner.Options.Episodes.HysteresisSeconds);
        _updateInterval = (long)Math.Ceiling(owner.Options.Episodes.UpdateIntervalSeconds);
        _slots = new Slot[rules.Length];
    }

    public bool IsBackfill => _timeline.IsBackfill;
    public int OpenCount => _openCount;

    public void Attach(List<AlertChange> sink) => _sink = sink;

    public bool IsOpen(int ruleIndex) => _slots[ruleIndex].Alert is not null;

    public Alert? OpenAlert(int ruleIndex) => _slots[ruleIndex].Alert;

    /// <summary>
    /// A verdict of <paramref name="rule"/> held at <paramref name="second"/>: opens an episode
    /// (starting at <paramref name="startSecond"/>, or now), or extends the open one.
    /// </summary>
    public void Hold(Rule rule, long second, AlertSeverity severity, long startSecond = long.MinValue)
    {
        ref var slot = ref _slots[rule.Index];
        if (slot.Alert is null)
        {
            var start = startSecond == long.MinValue ? second : Math.Min(startSecond, second);
            if (IsBackfill && _owner.Ledger.Covers(rule.Index, start, second, _hysteresis))
                return;
            slot.Severity = severity;
            slot.LastHeld = second;
            slot.LastEmitted = second;
            slot.Alert = Build(rule, slot.Severity, start, second, revision: 0, previous: null);
            _openCount++;
            _nextExpiry = Math.Min(_nextExpiry, second + _hysteresis);
            _owner.Ledger.Opened(rule.Index, start);
            Emit(new AlertChange(AlertChangeKind.Opened, slot.Alert));
            return;
        }

        if (second > slot.LastHeld)
            slot.LastHeld = second;
        var raised = severity > slot.Severity;
        if (raised)
            slot.Severity = severity;
        if (raised || second - slot.LastEmitted >= _updateInterval)
        {
            slot.LastEmitted = second;
            var a = slot.Alert;
            slot.Alert = Build(rule, slot.Severity, Time.ToSecond(a.StartUtc), slot.LastHeld, a.Revision + 1, previous: a);
            Emit(new AlertChange(AlertChangeKind.Updated, slot.Alert));
        }
    }

    /// <summary>Closes every open episode whose condition has not held for the hysteresis period before <paramref name="second"/>.</summary>
    public void CloseExpired(long second)
    {
        if (_openCount == 0 || second < _nextExpiry)
            return;
        var next = long.MaxValue;
        for (var i = 0; i < _slots.Length; i++)
        {
            ref readonly var slot = ref _slots[i];
            if (slot.Alert is null)
                continue;
            if (second - slot.LastHeld >= _hysteresis)
                Close(i);
            else
                next = Math.Min(next, slot.LastHeld + _hysteresis);
        }
        _nextExpiry = next;
    }

    /// <summary>Closes every open episode at its last held time plus hysteresis (end of a backfill).</summary>
    public void CloseAll()
    {
        for (var i = 0; i < _slots.Length; i++)
        {
            if (_slots[i].Alert is not null)
                Close(i);
        }
    }

    /// <summary>
    /// Closes the open episode of <paramref name="ruleIndex"/> as back-filled: data re-issued later
    /// filled the period it was about (a terminal gap). It ends at its last held second, with
    /// <paramref name="severity"/> and a note in its measurements and summary.
    /// </summary>
    public bool CloseBackfilled(int ruleIndex, AlertSeverity severity)
    {
        ref var slot = ref _slots[ruleIndex];
        if (slot.Alert is not { } a)
            return false;
        var measured = a.Measured.ToBuilder();
        measured["backfilled"] = 1;
        var closed = a with
        {
            Status = AlertStatus.Closed,
            Severity = severity,
            LastHeldUtc = Time.FromSecond(slot.LastHeld),
            EndUtc = Time.FromSecond(slot.LastHeld),
            Measured = measured.ToImmutable(),
            Summary = a.Summary + " Re-issued data later filled the gap (back-filled).",
            Revision = a.Revision + 1,
        };
        slot.Alert = null;
        _openCount--;
        _owner.Ledger.Closed(ruleIndex, Time.ToSecond(a.StartUtc), slot.LastHeld);
        Emit(new AlertChange(AlertChangeKind.Closed, closed), final: true);
        return true;
    }

    private void Close(int index)
    {
        ref var slot = ref _slots[index];
        var a = slot.Alert!;
        var end = slot.LastHeld + _hysteresis;
        var closed = a with
        {
            Status = AlertStatus.Closed,
            LastHeldUtc = Time.FromSecond(slot.LastHeld),
            EndUtc = Time.FromSecond(end),
            Revision = a.Revision + 1,
        };
        slot.Alert = null;
        _openCount--;
        _owner.Ledger.Closed(index, Time.ToSecond(a.StartUtc), end);
        if (IsBackfill)
        {
            // A backfilled episode is reported once it is complete.
            Emit(new AlertChange(AlertChangeKind.Opened, a with { LastHeldUtc = Time.FromSecond(slot.LastHeld) }), final: true);
        }
        Emit(new AlertChange(AlertChangeKind.Closed, closed), final: true);
    }

    /// <summary>Reports a change; a backfill timeline reports an episode only once it is complete (<paramref name="final"/>).</summary>
    private void Emit(AlertChange change, bool final = false)
    {
        if (IsBackfill && !final)
            return;
        _sink?.Add(change);
    }

    /// <summary>
    /// Builds the open alert of an episode: a new one (with evidence) when <paramref name="previous"/> is null,
    /// else its update, which keeps the id, evidence, and the first position and zone of the episode.
    /// </summary>
    private Alert Build(Rule rule, AlertSeverity severity, long start, long lastHeld, int revision, Alert? previous)
    {
        var measured = ImmutableSortedDictionary.CreateBuilder<string, double>(StringComparer.Ordinal);
        rule.Measure(measured);
        var zone = _timeline.CurrentZone;
        if (zone is { Restricted: true } && rule.Id != RuleRegistry.ZoneRuleId && severity < AlertSeverity.Critical)
            severity++;
        var vehicle = _owner.Vehicle;
        var summary = rule.Describe();
        if (zone is { } z && rule.Id != RuleRegistry.ZoneRuleId)
        {
            summary = z.Restricted
                ? string.Create(CultureInfo.InvariantCulture, $"{summary} Inside zone {z.Name}{(z.HasRestrictedHours ? " during its restricted hours" : "")}.")
                : string.Create(CultureInfo.InvariantCulture, $"{summary} Inside zone {z.Name}.");
        }
        var startUtc = Time.FromSecond(start);
        var fix = _timeline.LastFix;
        return new Alert
        {
            // The id depends only on VIN, rule and start: an update keeps the string it already has.
            Id = previous?.Id ?? Alert.MakeId(_owner.Vin, rule.Id, startUtc),
            RuleId = rule.Id,
            RuleName = rule.Name,
            Severity = severity,
            Status = AlertStatus.Open,
            Vin = _owner.Vin,
            Fleet = vehicle?.Fleet,
            Region = vehicle?.Region,
            Zone = previous is null ? zone?.Name : previous.Zone ?? zone?.Name,
            StartUtc = startUtc,
            LastHeldUtc = Time.FromSecond(lastHeld),
            EndUtc = null,
            Thresholds = rule.Thresholds,
            Measured = measured.ToImmutable(),
            Position = previous is null ? fix : previous.Position ?? fix,
            Evidence = previous is null ? _timeline.Evidence() : previous.Evidence,
            Summary = summary,
            Revision = revision,
        };
    }

    // ---- persistence ----

    public EpisodeState[] Capture()
    {
        var episodes = new List<EpisodeState>();
        for (var i = 0; i < _slots.Length; i++)
        {
            ref readonly var s = ref _slots[i];
            if (s.Alert is not null)
                episodes.Add(new EpisodeState(_rules[i].Id, s.Alert, s.LastHeld, s.LastEmitted, s.Severity));
        }
        return [.. episodes];
    }

    public void Restore(EpisodeState[]? episodes)
    {
        _openCount = 0;
        _nextExpiry = long.MinValue;
        Array.Clear(_slots);
        foreach (var e in episodes ?? [])
        {
            var index = Array.FindIndex(_rules, r => r.Id == e.RuleId);
            if (index < 0)
                continue;
            ref var slot = ref _slots[index];
            slot.Alert = e.Alert;
            slot.LastHeld = e.LastHeldSecond;
            slot.LastEmitted = e.LastEmittedSecond;
            slot.Severity = e.Severity;
            _openCount++;
        }
    }

    // A struct in one array per vehicle: 18 rules' slots without an object each.
    private struct Slot
    {
        public Alert? Alert;
        public long LastHeld;
        public long LastEmitted;
        public AlertSeverity Severity;
    }
}
