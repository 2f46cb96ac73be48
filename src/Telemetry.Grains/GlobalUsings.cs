global using Orleans;
global using Telemetry.Abstractions;
