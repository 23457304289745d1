using EdgeAgent.Pipeline.Cloud;
using EdgeAgent.Pipeline.Tests.Support;

namespace EdgeAgent.Pipeline.Tests.Cloud;

public sealed class CloudContractTests
{
    [Theory]
    [InlineData("not json", "not valid")]
    [InlineData("{\"schema\":\"other/9\",\"label\":\"run\",\"confidence\":0.5}", "schema 'other/9'")]
    [InlineData("{\"schema\":\"edgeagent.infer.response/1\",\"confidence\":0.5}", "neither 'label' nor 'error'")]
    [InlineData("{\"schema\":\"edgeagent.infer.response/1\",\"label\":\"run\",\"confidence\":1.5}", "outside [0, 1]")]
    [InlineData("{\"schema\":\"edgeagent.infer.response/1\",\"error\":\"model unknown\"}", "model unknown")]
    public void Malformed_or_error_answers_are_refused_with_a_reason(string body, string expected)
    {
        var e = Assert.Throws<CloudTierResponseException>(() => CloudTier.Parse(System.Text.Encoding.UTF8.GetBytes(body)));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_valid_answer_is_accepted()
    {
        var r = CloudTier.Parse("{\"schema\":\"edgeagent.infer.response/1\",\"label\":\"walk\",\"confidence\":0.8,\"model\":\"big\"}"u8.ToArray());
        Assert.Equal("walk", r.Label);
        Assert.Equal(0.8f, r.Confidence);
    }

    [Fact]
    public void The_token_bucket_refills_at_the_configured_rate()
    {
        var time = new ManualTime(new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero));
        var budget = new CloudRequestBudget(new CloudBudgetOptions { RequestsPerSecond = 2, Burst = 2, DailyBudget = null }, time);
        Assert.Equal(BudgetDecision.Granted, budget.TryAcquire());
        Assert.Equal(BudgetDecision.Granted, budget.TryAcquire());
        Assert.Equal(BudgetDecision.RateLimited, budget.TryAcquire());
        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal(BudgetDecision.Granted, budget.TryAcquire());
        Assert.Equal(BudgetDecision.RateLimited, budget.TryAcquire());
    }

    [Fact]
    public void The_daily_budget_is_exhausted_and_renews_at_utc_midnight()
    {
        var time = new ManualTime(new DateTimeOffset(2026, 11, 22, 23, 0, 0, TimeSpan.Zero));
        var budget = new CloudRequestBudget(new CloudBudgetOptions { RequestsPerSecond = 1000, Burst = 1000, DailyBudget = 3 }, time);
        for (int i = 0; i < 3; i++) Assert.Equal(BudgetDecision.Granted, budget.TryAcquire());
        Assert.Equal(BudgetDecision.DailyBudgetExhausted, budget.TryAcquire());
        time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(BudgetDecision.Granted, budget.TryAcquire());
        Assert.Equal(1, budget.UsedToday);
    }

    [Fact]
    public void Invalid_budget_options_are_refused_with_every_problem()
    {
        var e = Assert.Throws<ArgumentException>(() => new CloudRequestBudget(new CloudBudgetOptions { RequestsPerSecond = 0, Burst = 0, DailyBudget = -1 }));
        Assert.Contains("requestsPerSecond", e.Message);
        Assert.Contains("burst", e.Message);
        Assert.Contains("dailyBudget", e.Message);
    }
}
