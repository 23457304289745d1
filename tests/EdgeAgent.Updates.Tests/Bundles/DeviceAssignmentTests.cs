using System.Text;
using EdgeAgent.Bundles;
using EdgeAgent.Bundles.Assignments;
using Xunit;

namespace EdgeAgent.Updates.Tests.Bundles;

public sealed class DeviceAssignmentTests
{
    [Fact]
    public void An_assignment_round_trips_and_names_its_target_path()
    {
        var a = new DeviceAssignment
        {
            DeviceId = "dev-7",
            Models = { ["kws"] = "models/kws/2.0.0.bundle" },
            Rollout = "r-12",
            IssuedAt = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000),
        };
        var parsed = DeviceAssignmentLayout.Parse(DeviceAssignmentLayout.Serialize(a), "dev-7");
        Assert.Equal("models/kws/2.0.0.bundle", parsed.Models["kws"]);
        Assert.Equal("r-12", parsed.Rollout);
        Assert.Equal(a.IssuedAt, parsed.IssuedAt);
        Assert.Equal("assignments/dev-7.json", DeviceAssignmentLayout.TargetPath("dev-7"));
    }

    [Fact]
    public void An_assignment_for_another_device_is_refused()
    {
        var json = DeviceAssignmentLayout.Serialize(new DeviceAssignment { DeviceId = "dev-8" });
        var e = Assert.Throws<BundleException>(() => DeviceAssignmentLayout.Parse(json, "dev-7"));
        Assert.Equal(BundleFailure.Assignment, e.Failure);
        Assert.Contains("not this device 'dev-7'", e.Message);
    }

    [Theory]
    [InlineData("""{"deviceId":"dev-7","models":{"kws":"models/other/1.0.bundle"}}""")]
    [InlineData("""{"deviceId":"dev-7","models":{"kws":"models/kws/../1.0.bundle"}}""")]
    [InlineData("""{"deviceId":"dev-7","models":{"../x":"models/../x/1.0.bundle"}}""")]
    [InlineData("""{"deviceId":"dev-7","models":""")]
    [InlineData("null")]
    public void A_malformed_assignment_is_refused_with_a_reason(string json)
    {
        var e = Assert.Throws<BundleException>(() => DeviceAssignmentLayout.Parse(Encoding.UTF8.GetBytes(json), "dev-7"));
        Assert.Equal(BundleFailure.Assignment, e.Failure);
        Assert.Contains("dev-7", e.Message);
    }

    [Fact]
    public void A_device_id_that_is_not_a_safe_name_has_no_target_path()
    {
        var e = Assert.Throws<BundleException>(() => DeviceAssignmentLayout.TargetPath("../root"));
        Assert.Equal(BundleFailure.Assignment, e.Failure);
    }
}
