using EdgeAgent.Agent;

return await AgentCli.RunAsync(args);
