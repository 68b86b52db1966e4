// Copyright 2016, Pulumi Corporation (protocol and semantics); openstack-lab (this implementation).
// Licensed under the Apache License, Version 2.0.
//
// pulumi-language-python is a Python language host for the Pulumi engine.
//
// The upstream host (module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3) is not
// available from the module proxy, so openstack-lab builds this small reimplementation of it. It reuses the
// upstream interpreter/virtualenv logic (github.com/pulumi/pulumi/sdk/v3/python/toolchain) and runs programs
// through the upstream `pulumi-language-python-exec` script shipped in the same sdk/v3 module, so program
// execution semantics (config, secrets, monitor/engine, dry-run, parallelism, exit code 32 "bail") are the
// upstream ones.
//
// Invocation (by the engine): pulumi-language-python [--logtostderr] [-v=N] [--tracing URL] ENGINE_ADDRESS
// It prints the gRPC port it listens on (127.0.0.1) as the first line on stdout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/blang/semver"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

// Exit code used by pulumi-language-python-exec to say "an actionable error was already shown to the user".
const pythonProcessExitedAfterShowingUserActionableMessage = 32

const execScriptName = "pulumi-language-python-exec"

func main() {
	var tracing string
	flag.StringVar(&tracing, "tracing", "", "Emit tracing to a Zipkin-compatible tracing endpoint")
	// Legacy flags of the upstream host; accepted and ignored (options now arrive in ProgramInfo.options).
	flag.String("root", "", "[deprecated] project root")
	flag.String("virtualenv", "", "[deprecated] virtualenv path")
	flag.String("typechecker", "", "[deprecated] type checker")
	flag.String("toolchain", "", "[deprecated] toolchain")
	flag.Parse()
	args := flag.Args()
	logging.InitLogging(false, 0, false)
	cmdutil.InitTracing("pulumi-language-python", "pulumi-language-python", tracing)

	var engineAddress string
	if len(args) > 0 {
		engineAddress = args[0]
	}

	execPath, err := findExecScript()
	if err != nil {
		cmdutil.Exit(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if engineAddress != "" {
		// Exit when the engine goes away.
		go func() {
			_ = rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, cancel)
		}()
	}

	host := &pythonLanguageHost{engineAddress: engineAddress, tracing: tracing, execPath: execPath}
	cancelChannel := make(chan bool)
	go func() {
		<-ctx.Done()
		close(cancelChannel)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancelChannel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start language host RPC server: %w", err))
	}

	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)

	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host RPC stopped serving: %w", err))
	}
}

// findExecScript locates pulumi-language-python-exec next to this executable (following symlinks), then on PATH.
func findExecScript() (string, error) {
	if self, err := os.Executable(); err == nil {
		if resolved, err := filepath.EvalSymlinks(self); err == nil {
			candidate := filepath.Join(filepath.Dir(resolved), execScriptName)
			if _, err := os.Stat(candidate); err == nil {
				return candidate, nil
			}
		}
	}
	if p, err := exec.LookPath(execScriptName); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("could not find %s next to pulumi-language-python or on $PATH", execScriptName)
}

type pythonLanguageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	mu            sync.Mutex
	engineAddress string
	tracing       string
	execPath      string
}

// resolveToolchain resolves the interpreter like upstream from the project's runtime options:
// virtualenv (relative to the project root) and toolchain (pip, uv, poetry; default: auto).
func resolveToolchain(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	if info == nil {
		return nil, errors.New("missing program info")
	}
	opts := toolchain.PythonOptions{Root: info.GetRootDirectory(), ProgramDir: info.GetProgramDirectory()}
	options := info.GetOptions().AsMap()
	option := func(key string) (string, error) {
		v, ok := options[key]
		s, isString := v.(string)
		if ok && !isString {
			return "", fmt.Errorf("%s option must be a string", key)
		}
		return s, nil
	}
	var err error
	if opts.Virtualenv, err = option("virtualenv"); err != nil {
		return nil, err
	}
	if tc, err := option("typechecker"); err != nil {
		return nil, err
	} else if tc != "" && tc != "none" {
		return nil, fmt.Errorf("the typechecker option (%q) is not supported by this language host", tc)
	}
	name, err := option("toolchain")
	switch {
	case err != nil:
		return nil, err
	case name == "pip":
		opts.Toolchain = toolchain.Pip
	case name == "poetry":
		opts.Toolchain = toolchain.Poetry
	case name == "uv":
		opts.Toolchain = toolchain.Uv
	case name == "":
		opts.Toolchain = toolchain.Auto
	default:
		return nil, fmt.Errorf("unsupported toolchain option: %s", name)
	}
	return toolchain.ResolveToolchain(opts)
}

func (host *pythonLanguageHost) Handshake(
	ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	host.mu.Lock()
	defer host.mu.Unlock()
	if req.GetEngineAddress() != "" {
		host.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (host *pythonLanguageHost) getEngineAddress() string {
	host.mu.Lock()
	defer host.mu.Unlock()
	return host.engineAddress
}

func (host *pythonLanguageHost) GetPluginInfo(ctx context.Context, req *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: strings.TrimPrefix(version.Version, "v")}, nil
}

// pluginScript lists the installed distributions that ship a top-level pulumi-plugin.json.
const pluginScript = `
import importlib.metadata as md, json
out = []
for d in md.distributions():
    for f in (d.files or []):
        if f.name == "pulumi-plugin.json" and len(f.parts) == 2:
            out.append({"package": d.metadata["Name"], "version": d.version, "path": str(d.locate_file(f))})
print(json.dumps(out))
`

type installedPluginPackage struct {
	Package string `json:"package"`
	Version string `json:"version"`
	Path    string `json:"path"`
}

var pep440Re = regexp.MustCompile(`^(\d+(?:\.\d+)*)(?:(a|b|rc)(\d+))?(?:\.post(\d+))?(?:\.dev(\d+))?`)

// pep440ToSemver converts a Python package version (e.g. 1.2.3a4) to semver (1.2.3-alpha.4).
func pep440ToSemver(v string) string {
	m := pep440Re.FindStringSubmatch(v)
	if m == nil {
		return v
	}
	parts := strings.Split(m[1], ".")
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	out := strings.Join(parts[:3], ".")
	switch m[2] {
	case "a":
		out += "-alpha." + m[3]
	case "b":
		out += "-beta." + m[3]
	case "rc":
		out += "-rc." + m[3]
	}
	if m[5] != "" && m[2] == "" {
		out += "-dev." + m[5]
	}
	return out
}

func pluginNameFromPackage(pkg string) string {
	name := strings.ToLower(pkg)
	name = strings.ReplaceAll(name, "_", "-")
	return strings.TrimPrefix(name, "pulumi-")
}

func (host *pythonLanguageHost) determinePackages(
	ctx context.Context, info *pulumirpc.ProgramInfo,
) ([]*pulumirpc.PackageDependency, error) {
	tc, err := resolveToolchain(info)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", pluginScript)
	if err != nil {
		return nil, err
	}
	if info.GetProgramDirectory() != "" {
		cmd.Dir = info.GetProgramDirectory()
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing installed Python packages with `%s`: %w: %s",
			strings.Join(cmd.Args[:1], " "), err, strings.TrimSpace(stderr.String()))
	}
	var installed []installedPluginPackage
	if err := json.Unmarshal(out, &installed); err != nil {
		return nil, fmt.Errorf("parsing installed package list: %w", err)
	}

	seen := map[string]bool{}
	var result []*pulumirpc.PackageDependency
	for _, p := range installed {
		pj, err := plugin.LoadPulumiPluginJSON(p.Path)
		if err != nil {
			logging.V(5).Infof("skipping %s: %v", p.Path, err)
			continue
		}
		if !pj.Resource {
			continue
		}
		name := pj.Name
		if name == "" {
			name = pluginNameFromPackage(p.Package)
		}
		ver := pj.Version
		if ver == "" {
			ver = pep440ToSemver(p.Version)
		}
		if _, err := semver.ParseTolerant(ver); err != nil {
			logging.V(5).Infof("skipping %s: bad version %q", p.Package, ver)
			continue
		}
		if !strings.HasPrefix(ver, "v") {
			ver = "v" + ver
		}
		dep := &pulumirpc.PackageDependency{Name: name, Kind: "resource", Version: ver, Server: pj.Server}
		key := name + "@" + ver
		if pj.Parameterization != nil {
			dep.Parameterization = &pulumirpc.PackageParameterization{
				Name: pj.Parameterization.Name, Version: pj.Parameterization.Version, Value: pj.Parameterization.Value,
			}
			key += "/" + pj.Parameterization.Name + "@" + pj.Parameterization.Version
		}
		if pj.ExtensionParameterization != nil {
			dep.Extension = &pulumirpc.PackageParameterization{
				Name:    pj.ExtensionParameterization.Name,
				Version: pj.ExtensionParameterization.Version,
				Value:   pj.ExtensionParameterization.Value,
			}
			key += "+" + pj.ExtensionParameterization.Name + "@" + pj.ExtensionParameterization.Version
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		result = append(result, dep)
	}
	sort.Slice(result, func(i, j int) bool { return result[i].Name < result[j].Name })
	return result, nil
}

// GetRequiredPackages is the engine's only question about dependencies: it asks the deprecated
// GetRequiredPlugins (left to UnimplementedLanguageRuntimeServer) only when this one is unimplemented
// (pkg/resource/plugin/langruntime_plugin.go in pulumi v3.274.1).
func (host *pythonLanguageHost) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	pkgs, err := host.determinePackages(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: pkgs}, nil
}

func (host *pythonLanguageHost) constructArguments(req *pulumirpc.RunRequest) []string {
	args := []string{host.execPath}
	maybeAppendArg := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	maybeAppendArg("monitor", req.GetMonitorAddress())
	maybeAppendArg("engine", host.getEngineAddress())
	maybeAppendArg("project", req.GetProject())
	maybeAppendArg("stack", req.GetStack())
	maybeAppendArg("pwd", req.GetPwd())
	if req.GetDryRun() {
		args = append(args, "--dry_run", "true")
	}
	maybeAppendArg("parallel", fmt.Sprint(req.GetParallel()))
	maybeAppendArg("tracing", host.tracing)
	maybeAppendArg("organization", req.GetOrganization())
	maybeAppendArg("root_directory", req.GetInfo().GetRootDirectory())

	// The engine always sends an entry point ("." for the program directory itself).
	entry := req.GetInfo().GetEntryPoint()
	if entry == "" {
		entry = req.GetProgram() //nolint:staticcheck // fallback for old engines
	}
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)
	return args
}

func (host *pythonLanguageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	cmd, err := tc.Command(ctx, host.constructArguments(req)...)
	if err != nil {
		return nil, err
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	if len(req.GetConfig()) > 0 {
		b, err := json.Marshal(req.GetConfig())
		if err != nil {
			return nil, err
		}
		env = append(env, "PULUMI_CONFIG="+string(b))
	}
	if len(req.GetConfigSecretKeys()) > 0 {
		b, err := json.Marshal(req.GetConfigSecretKeys())
		if err != nil {
			return nil, err
		}
		env = append(env, "PULUMI_CONFIG_SECRET_KEYS="+string(b))
	}
	cmd.Env = env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr

	var errResult string
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code := exitErr.ExitCode()
			switch {
			case code == pythonProcessExitedAfterShowingUserActionableMessage:
				return &pulumirpc.RunResponse{Error: "", Bail: true}, nil
			case code >= 0:
				errResult = fmt.Sprintf("Program exited with non-zero exit code: %d", code)
			default:
				errResult = fmt.Sprintf("Program exited unexpectedly: %v", exitErr)
			}
		} else {
			errResult = fmt.Sprintf("Problem executing program (could not run language executor): %v", err)
		}
	}
	return &pulumirpc.RunResponse{Error: errResult}, nil
}

func (host *pythonLanguageHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	ctx := server.Context()
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	dir := req.GetInfo().GetProgramDirectory()
	if dir == "" {
		dir = req.GetDirectory() //nolint:staticcheck
	}
	if err := tc.InstallDependencies(ctx, dir, req.GetUseLanguageVersionTools(), true, stdout, stderr); err != nil {
		return err
	}
	return nil
}

func (host *pythonLanguageHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	metadata := map[string]string{}
	if venv, err := tc.VirtualEnvPath(ctx); err == nil && venv != "" {
		metadata["virtualenv"] = venv
	}
	return &pulumirpc.AboutResponse{
		Executable: info.PythonExecutable,
		Version:    info.PythonVersion.String(),
		Metadata:   metadata,
	}, nil
}

func (host *pythonLanguageHost) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, err := resolveToolchain(req.GetInfo())
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	pkgs, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, err
	}
	deps := make([]*pulumirpc.DependencyInfo, 0, len(pkgs))
	for _, p := range pkgs {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

func (host *pythonLanguageHost) RuntimeOptionsPrompts(
	ctx context.Context, req *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

func (host *pythonLanguageHost) Cancel(ctx context.Context, req *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
