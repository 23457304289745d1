global using Xunit;
global using EdgeAgent.OnnxFormat;
