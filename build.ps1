# EdgeAgent build for PowerShell users (Linux/macOS with pwsh, or WSL). Mirrors build.sh:
#   ./build.ps1 [build|test|demo|publish|publish-aot|bench]
# The tests need Debian packages (mosquitto, libonnx-testdata, ...) that only build.sh installs; on a
# Debian machine build.sh is the reference. This script fetches ONNX Runtime the same way (npm pack,
# pinned SHA-256) and runs the same dotnet commands.
param([string]$Target = "build", [Parameter(ValueFromRemainingArguments = $true)] $Rest)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot
$Config = if ($env:CONFIG) { $env:CONFIG } else { "Release" }
$OrtVersion = "1.30.0"
$OrtSha = @{ "x64" = "ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23";
             "arm64" = "1f549d46250b005580b597f4164984aaf75b3bcb9f3aeb07c7f8a8fe60b23c76" }
$OrtCache = if ($env:EDGEAGENT_ORT_CACHE) { $env:EDGEAGENT_ORT_CACHE } else { Join-Path $HOME ".cache/edgeagent/ort" }
$env:EDGEAGENT_ORT_CACHE = $OrtCache

function Test-Ort([string]$Arch) {
    $f = Join-Path $OrtCache "$OrtVersion/linux-$Arch/libonnxruntime.so.1"
    (Test-Path $f) -and ((Get-FileHash $f -Algorithm SHA256).Hash.ToLower() -eq $OrtSha[$Arch])
}

function Install-Ort {
    if ((Test-Ort "x64") -and (Test-Ort "arm64")) { return }
    Write-Host "fetching ONNX Runtime $OrtVersion (npm package onnxruntime-node)"
    $tmp = New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) ([Guid]::NewGuid()))
    try {
        Push-Location $tmp; npm pack --silent "onnxruntime-node@$OrtVersion" | Out-Null; Pop-Location
        tar -xzf (Join-Path $tmp "onnxruntime-node-$OrtVersion.tgz") -C $tmp package/bin/napi-v6/linux
        foreach ($arch in "x64", "arm64") {
            $src = Join-Path $tmp "package/bin/napi-v6/linux/$arch/libonnxruntime.so.1"
            if ((Get-FileHash $src -Algorithm SHA256).Hash.ToLower() -ne $OrtSha[$arch]) { throw "libonnxruntime.so.1 ($arch) does not match the pinned SHA-256" }
            $dst = Join-Path $OrtCache "$OrtVersion/linux-$arch"
            New-Item -ItemType Directory -Force -Path $dst | Out-Null
            Copy-Item $src (Join-Path $dst "libonnxruntime.so.1") -Force
        }
    } finally { Remove-Item -Recurse -Force $tmp }
}

function Invoke-Build { Install-Ort; dotnet build EdgeAgent.sln -c $Config -nologo -clp:ErrorsOnly -v:q; if ($LASTEXITCODE) { throw "build failed" } }

switch ($Target) {
    "build" { Invoke-Build }
    "test" { Invoke-Build; dotnet test EdgeAgent.sln -c $Config --no-build; exit $LASTEXITCODE }
    "demo" { Invoke-Build; & "agent/EdgeAgent.Agent/bin/$Config/net10.0/edgeagent" demo --dir out/demo @Rest; exit $LASTEXITCODE }
    "publish" { Install-Ort; dotnet publish agent/EdgeAgent.Agent/EdgeAgent.Agent.csproj -c $Config -r linux-x64 --self-contained -p:PublishTrimmed=true -o out/publish/linux-x64; exit $LASTEXITCODE }
    "publish-aot" { Install-Ort; dotnet publish agent/EdgeAgent.Agent/EdgeAgent.Agent.csproj -c $Config -r linux-x64 -p:PublishAot=true -o out/publish-aot/linux-x64; exit $LASTEXITCODE }
    "bench" { Invoke-Build; bash tests/bench/ort-baseline/run.sh; exit $LASTEXITCODE }
    default { throw "unknown target '$Target' (build, test, demo, publish, publish-aot, bench)" }
}
