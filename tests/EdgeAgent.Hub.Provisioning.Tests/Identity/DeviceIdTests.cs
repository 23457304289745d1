using EdgeAgent.Hub.Provisioning.Identity;

namespace EdgeAgent.Hub.Provisioning.Tests.Identity;

public sealed class DeviceIdTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("pump-7")]
    [InlineData("0sensor")]
    [InlineData("abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxyz")]
    public void Lower_case_letters_digits_and_dashes_are_accepted(string id) => Assert.Equal(id, DeviceId.Validate(id));

    [Theory]
    [InlineData("dev+", "wildcards")]
    [InlineData("dev#", "wildcards")]
    [InlineData("a/b", "'/' separates")]
    [InlineData("a..b", "'..'")]
    [InlineData("..", "'..'")]
    [InlineData("", "empty")]
    [InlineData("-dev", "must start with a letter or digit")]
    [InlineData("Dev", "character 'D'")]
    [InlineData("dev_1", "character '_'")]
    [InlineData("dev 1", "character ' '")]
    [InlineData("dev:1", "character ':'")]
    [InlineData("dév", "character 'é'")]
    [InlineData("abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxyz0", "at most 63")]
    [InlineData("fleet", "reserved")]
    public void Unusable_ids_are_refused_with_the_reason(string id, string reason)
    {
        var e = Assert.Throws<InvalidDeviceIdException>(() => DeviceId.Validate(id));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.Contains($"Device id '{id}' refused", e.Message, StringComparison.Ordinal);
        Assert.False(DeviceId.TryValidate(id, out string problem));
        Assert.NotEmpty(problem);
    }

    [Fact]
    public void Null_is_refused() => Assert.Throws<InvalidDeviceIdException>(() => DeviceId.Validate(null));
}
