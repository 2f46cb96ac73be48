using System.CommandLine;
using Telemetry.Simulator;

var root = new RootCommand("Heavy-duty diesel truck fleet simulator: publishes terminal frames over MQTT and runs the labelled detection scenarios.")
{
    RunCommand.Create(),
    ScenariosCommand.Create(),
    LoadCommand.Create(),
    LoadCommand.CreateCeiling(),
    LoadCommand.CreateVins(),
};
return await root.Parse(args).InvokeAsync();
