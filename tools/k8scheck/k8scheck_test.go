package k8scheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// dir is deploy/k8s from tools/k8scheck.
const dir = "../../deploy/k8s"

// The names the manifests agree on.
const (
	shardJob    = "loadgen-shards"
	mergeJob    = "loadgen-merge"
	runCM       = "loadgen-run"
	scenarioCM  = "loadgen-scenario"
	tokenSecret = "loadgen-token"
	resultsPVC  = "loadgen-results"
	metricsPort = 9464
)

func load(t *testing.T) *Manifests {
	t.Helper()
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestStrictDecodeRefusesUnknownFields makes sure the decoding is strict.
func TestStrictDecodeRefusesUnknownFields(t *testing.T) {
	tests := []struct {
		name, doc string
	}{
		{"unknown job field", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec: {completionMod: Indexed}\n"},
		{"unknown container field", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: b, argz: [c]}]\n"},
		{"duplicate field", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\ndata: {c: d}\n"},
		{"unknown podmonitor field", "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: x}\nspec: {podMetricEndpoints: []}\n"},
		{"unknown kind", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := Load(t.TempDir())
			if _, err := m.decode([]byte(tc.doc)); err == nil {
				t.Errorf("decoded without error")
			}
		})
	}
}

// TestKustomization checks that kustomization.yaml lists every manifest but
// the PodMonitor, and that kustomize builds it into objects that decode
// strictly, with the generated run ConfigMap's hashed name wired in.
func TestKustomization(t *testing.T) {
	m := load(t)
	k := m.Kustomization
	if k == nil {
		t.Fatal("no kustomization.yaml")
	}
	for file, kinds := range m.Files {
		listed := slices.Contains(k.Resources, file)
		switch {
		case file == "kustomization.yaml":
		case slices.Contains(kinds, "PodMonitor"):
			if listed {
				t.Errorf("%s needs the Prometheus Operator's CRDs: keep it out of the default resources", file)
			}
		case !listed:
			t.Errorf("%s is not in kustomization.yaml's resources", file)
		}
	}
	for _, r := range k.Resources {
		if _, ok := m.Files[r]; !ok {
			t.Errorf("kustomization.yaml lists %s, which is not a manifest here", r)
		}
	}

	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build: %v", err)
	}
	out, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	built := t.TempDir()
	if err := os.WriteFile(filepath.Join(built, "built.yaml"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := Load(built)
	if err != nil {
		t.Fatalf("the built manifests: %v", err)
	}
	var runName string
	for name := range b.ConfigMaps {
		if strings.HasPrefix(name, runCM+"-") {
			runName = name
		}
	}
	if runName == "" {
		t.Fatalf("kustomize generated no %s ConfigMap", runCM)
	}
	for _, j := range b.Jobs {
		if j.Namespace != "loadgen" {
			t.Errorf("job %s: namespace %q, want loadgen", j.Name, j.Namespace)
		}
		for _, c := range allContainers(&j.Spec.Template.Spec) {
			if strings.HasPrefix(c.Image, "loadgen") && c.Image != "loadgen:dev" {
				t.Errorf("job %s container %s: image %q, want kustomize's loadgen:dev", j.Name, c.Name, c.Image)
			}
			for _, e := range c.Env {
				if r := e.ValueFrom; r != nil && r.ConfigMapKeyRef != nil && strings.HasPrefix(r.ConfigMapKeyRef.Name, runCM) && r.ConfigMapKeyRef.Name != runName {
					t.Errorf("job %s container %s env %s: ConfigMap %s, want the generated %s", j.Name, c.Name, e.Name, r.ConfigMapKeyRef.Name, runName)
				}
			}
		}
	}
}

// TestRunEnv checks run.env: a run id and an RFC 3339 start instant.
func TestRunEnv(t *testing.T) {
	env, err := ReadEnvFile(filepath.Join(dir, "run.env"))
	if err != nil {
		t.Fatal(err)
	}
	if env["RUN_ID"] == "" {
		t.Error("run.env: no RUN_ID")
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$`).MatchString(env["START_AT"]) {
		t.Errorf("run.env: START_AT %q is not RFC 3339", env["START_AT"])
	}
}

// shardCount reads N from `--shard $(JOB_COMPLETION_INDEX)/N`.
func shardCount(args []string) (int, error) {
	i := slices.Index(args, "--shard")
	if i < 0 || i+1 >= len(args) {
		return 0, fmt.Errorf("no --shard argument")
	}
	idx, n, ok := strings.Cut(args[i+1], "/")
	if !ok || idx != "$(JOB_COMPLETION_INDEX)" {
		return 0, fmt.Errorf("--shard %q: want $(JOB_COMPLETION_INDEX)/N", args[i+1])
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 1 {
		return 0, fmt.Errorf("--shard %q: N is not a positive integer", args[i+1])
	}
	return count, nil
}

// flagValue is the argument after flag, or "".
func flagValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

func container(t *testing.T, j *batchv1.Job, name string) *corev1.Container {
	t.Helper()
	for i := range j.Spec.Template.Spec.Containers {
		if c := &j.Spec.Template.Spec.Containers[i]; c.Name == name {
			return c
		}
	}
	t.Fatalf("job %s has no container %s", j.Name, name)
	return nil
}

func allContainers(p *corev1.PodSpec) []corev1.Container {
	return append(append([]corev1.Container{}, p.InitContainers...), p.Containers...)
}

// TestShardJob checks the Indexed Job against the shard arguments and the
// objects it references.
func TestShardJob(t *testing.T) {
	m := load(t)
	j, ok := m.Jobs[shardJob]
	if !ok {
		t.Fatalf("no Job %s", shardJob)
	}
	s := j.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("completionMode: want Indexed")
	}
	c := container(t, j, "loadgen")
	n, err := shardCount(c.Args)
	if err != nil {
		t.Fatal(err)
	}
	if s.Completions == nil || int(*s.Completions) != n {
		t.Errorf("completions %v, want N = %d of --shard", deref(s.Completions), n)
	}
	if s.Parallelism == nil || int(*s.Parallelism) != n {
		t.Errorf("parallelism %v, want N = %d of --shard (every shard runs at once)", deref(s.Parallelism), n)
	}
	if len(c.Args) == 0 || c.Args[0] != "run" {
		t.Errorf("args %q: want the run subcommand first", c.Args)
	}
	for flag, want := range map[string]string{
		"--start-at":       "$(START_AT)",
		"--run-id":         "$(RUN_ID)",
		"--out":            "/results/shard-$(JOB_COMPLETION_INDEX)",
		"--metrics-listen": ":" + strconv.Itoa(metricsPort),
		"--metrics-linger": "60s",
	} {
		if got := flagValue(c.Args, flag); got != want {
			t.Errorf("%s %q, want %q", flag, got, want)
		}
	}
	if got := c.Args[len(c.Args)-1]; got != "/scenario/scenario.yaml" {
		t.Errorf("scenario argument %q, want /scenario/scenario.yaml", got)
	}

	// $(VAR) in args and subPathExpr must be env vars of the container.
	envs := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		envs[e.Name] = e
	}
	refs := regexp.MustCompile(`\$\(([A-Z_]+)\)`)
	texts := append([]string{}, c.Args...)
	for _, vm := range c.VolumeMounts {
		texts = append(texts, vm.SubPathExpr)
	}
	for _, text := range texts {
		for _, r := range refs.FindAllStringSubmatch(text, -1) {
			if _, ok := envs[r[1]]; !ok {
				t.Errorf("%q uses $(%s), which is not an env var of the container", text, r[1])
			}
		}
	}
	if e := envs["JOB_COMPLETION_INDEX"]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil ||
		e.ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
		t.Errorf("JOB_COMPLETION_INDEX must come from the job-completion-index annotation")
	}
	checkEnvRefs(t, m, j)

	tok := envs["LOADGEN_TOKEN_KEY"]
	if tok.ValueFrom == nil || tok.ValueFrom.SecretKeyRef == nil || tok.ValueFrom.SecretKeyRef.Name != tokenSecret {
		t.Errorf("LOADGEN_TOKEN_KEY must come from the Secret %s", tokenSecret)
	}
	checkScenario(t, m, j, c)

	// Scheduling: resources, one shard per node, restartPolicy for podFailurePolicy.
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("the loadgen container needs CPU requests and memory limits")
	}
	pod := j.Spec.Template
	aff := pod.Spec.Affinity
	if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) == 0 {
		t.Fatalf("no required podAntiAffinity")
	}
	term := aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0]
	if term.TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("anti-affinity topologyKey %q, want kubernetes.io/hostname", term.TopologyKey)
	}
	if term.LabelSelector == nil || !selects(term.LabelSelector.MatchLabels, pod.Labels) {
		t.Errorf("anti-affinity does not select the shard pods")
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %q: podFailurePolicy needs Never", pod.Spec.RestartPolicy)
	}
	checkExitCodes(t, j, "loadgen", batchv1.PodFailurePolicyActionFailIndex)
	checkSecurity(t, j)

	// Metrics: the port, the headless Service, the PodMonitor.
	var port *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].Name == "metrics" {
			port = &c.Ports[i]
		}
	}
	if port == nil || port.ContainerPort != metricsPort {
		t.Fatalf("no container port metrics = %d", metricsPort)
	}
	svc, ok := m.Services[pod.Spec.Subdomain]
	if !ok {
		t.Fatalf("the pods' subdomain %q names no Service", pod.Spec.Subdomain)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("Service %s is not headless", svc.Name)
	}
	if !selects(svc.Spec.Selector, pod.Labels) {
		t.Errorf("Service %s does not select the shard pods", svc.Name)
	}
	for _, p := range svc.Spec.Ports {
		if p.TargetPort.String() != "metrics" {
			t.Errorf("Service port %s targets %s, want metrics", p.Name, p.TargetPort.String())
		}
	}
	if len(m.PodMonitors) == 0 {
		t.Errorf("no PodMonitor example")
	}
	for _, pm := range m.PodMonitors {
		if !selects(pm.Spec.Selector.MatchLabels, pod.Labels) {
			t.Errorf("PodMonitor %s does not select the shard pods", pm.Metadata.Name)
		}
		if len(pm.Spec.PodMetricsEndpoints) == 0 || pm.Spec.PodMetricsEndpoints[0].Port != "metrics" {
			t.Errorf("PodMonitor %s must scrape the port named metrics", pm.Metadata.Name)
		}
	}
}

// TestMergeJob checks that the merge Job waits for and merges exactly the
// N shard directories the shard Job writes.
func TestMergeJob(t *testing.T) {
	m := load(t)
	shards, ok := m.Jobs[shardJob]
	if !ok {
		t.Fatalf("no Job %s", shardJob)
	}
	n, err := shardCount(container(t, shards, "loadgen").Args)
	if err != nil {
		t.Fatal(err)
	}
	j, ok := m.Jobs[mergeJob]
	if !ok {
		t.Fatalf("no Job %s", mergeJob)
	}
	if j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion {
		t.Errorf("the merge Job is a single pod")
	}
	c := container(t, j, "merge")
	if len(c.Args) < 3 || c.Args[0] != "merge" || c.Args[1] != "--out" {
		t.Fatalf("args %q: want merge --out DIR SHARD_DIR...", c.Args)
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("/results/shard-%d", i))
	}
	if got := c.Args[3:]; !slices.Equal(got, want) {
		t.Errorf("merge shard directories %q, want the N = %d the shards write: %q", got, n, want)
	}
	if slices.Contains(want, c.Args[2]) {
		t.Errorf("merge --out %s overwrites a shard directory", c.Args[2])
	}
	var wait *corev1.Container
	for i := range j.Spec.Template.Spec.InitContainers {
		if ic := &j.Spec.Template.Spec.InitContainers[i]; ic.Name == "wait-for-shards" {
			wait = ic
		}
	}
	if wait == nil {
		t.Fatal("no wait-for-shards init container")
	}
	for _, e := range wait.Env {
		if e.Name == "SHARDS" && e.Value != strconv.Itoa(n) {
			t.Errorf("wait-for-shards SHARDS=%s, want %d", e.Value, n)
		}
	}
	if !strings.Contains(strings.Join(wait.Command, " "), `"complete": *true`) {
		t.Errorf("wait-for-shards must wait for summary.json's \"complete\": true")
	}
	// Both Jobs mount the same volume at the same per-run subpath.
	mount := func(ctr *corev1.Container) string {
		for _, vm := range ctr.VolumeMounts {
			if vm.MountPath == "/results" {
				return vm.Name + ":" + vm.SubPathExpr
			}
		}
		return ""
	}
	shardMount := mount(container(t, shards, "loadgen"))
	for _, ctr := range []*corev1.Container{wait, c} {
		if got := mount(ctr); got != shardMount || got == "" {
			t.Errorf("%s mounts /results as %q, the shards as %q", ctr.Name, got, shardMount)
		}
	}
	checkEnvRefs(t, m, j)
	checkExitCodes(t, j, "merge", batchv1.PodFailurePolicyActionFailJob)
	checkSecurity(t, j)
}

// checkEnvRefs resolves every ConfigMap, Secret and PVC a Job references.
func checkEnvRefs(t *testing.T, m *Manifests, j *batchv1.Job) {
	t.Helper()
	runEnv, err := ReadEnvFile(filepath.Join(dir, "run.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range allContainers(&j.Spec.Template.Spec) {
		for _, e := range c.Env {
			switch r := e.ValueFrom; {
			case r == nil:
			case r.ConfigMapKeyRef != nil && r.ConfigMapKeyRef.Name == runCM:
				if _, ok := runEnv[r.ConfigMapKeyRef.Key]; !ok {
					t.Errorf("job %s %s: %s/%s is not in run.env", j.Name, c.Name, runCM, r.ConfigMapKeyRef.Key)
				}
			case r.ConfigMapKeyRef != nil:
				if cm, ok := m.ConfigMaps[r.ConfigMapKeyRef.Name]; !ok || cm.Data[r.ConfigMapKeyRef.Key] == "" {
					t.Errorf("job %s %s: no ConfigMap key %s/%s", j.Name, c.Name, r.ConfigMapKeyRef.Name, r.ConfigMapKeyRef.Key)
				}
			case r.SecretKeyRef != nil:
				s, ok := m.Secrets[r.SecretKeyRef.Name]
				if !ok || (s.StringData[r.SecretKeyRef.Key] == "" && len(s.Data[r.SecretKeyRef.Key]) == 0) {
					t.Errorf("job %s %s: no Secret key %s/%s", j.Name, c.Name, r.SecretKeyRef.Name, r.SecretKeyRef.Key)
				}
			}
		}
	}
	for _, v := range j.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			pvc, ok := m.PVCs[v.PersistentVolumeClaim.ClaimName]
			if !ok {
				t.Errorf("job %s: no PVC %s", j.Name, v.PersistentVolumeClaim.ClaimName)
				continue
			}
			if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteMany) {
				t.Errorf("PVC %s: shards on different nodes and the merge share it: want ReadWriteMany", pvc.Name)
			}
		}
		if v.ConfigMap != nil {
			if _, ok := m.ConfigMaps[v.ConfigMap.Name]; !ok {
				t.Errorf("job %s: no ConfigMap %s", j.Name, v.ConfigMap.Name)
			}
		}
	}
	if j.Spec.Template.Spec.Volumes == nil {
		t.Errorf("job %s: no volumes", j.Name)
	}
	if _, ok := m.PVCs[resultsPVC]; !ok {
		t.Errorf("no PVC %s", resultsPVC)
	}
}

// checkScenario checks the scenario ConfigMap is mounted where the args
// say, and that a token scenario reads the key from the Secret's env var.
func checkScenario(t *testing.T, m *Manifests, j *batchv1.Job, c *corev1.Container) {
	t.Helper()
	cm, ok := m.ConfigMaps[scenarioCM]
	if !ok {
		t.Fatalf("no ConfigMap %s", scenarioCM)
	}
	text, ok := cm.Data["scenario.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no scenario.yaml", scenarioCM)
	}
	var sc struct {
		Name  string `json:"name"`
		Mode  string `json:"mode"`
		Token struct {
			KeyEnv string `json:"key_env"`
		} `json:"token"`
	}
	if err := yaml.Unmarshal([]byte(text), &sc); err != nil {
		t.Fatalf("scenario.yaml: %v", err)
	}
	if sc.Mode == "token" && sc.Token.KeyEnv != "LOADGEN_TOKEN_KEY" {
		t.Errorf("scenario token.key_env %q, want LOADGEN_TOKEN_KEY (the Secret's env var)", sc.Token.KeyEnv)
	}
	mounted := false
	for _, vm := range c.VolumeMounts {
		for _, v := range j.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil && v.ConfigMap.Name == scenarioCM && vm.MountPath == "/scenario" {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("ConfigMap %s is not mounted at /scenario", scenarioCM)
	}
}

// checkExitCodes: loadgen's verdicts (99, 100) are not crashes to retry.
func checkExitCodes(t *testing.T, j *batchv1.Job, ctr string, action batchv1.PodFailurePolicyAction) {
	t.Helper()
	p := j.Spec.PodFailurePolicy
	if p == nil {
		t.Errorf("job %s: no podFailurePolicy", j.Name)
		return
	}
	for _, r := range p.Rules {
		if r.OnExitCodes != nil && r.Action == action && r.OnExitCodes.ContainerName != nil && *r.OnExitCodes.ContainerName == ctr &&
			slices.Contains(r.OnExitCodes.Values, 99) && slices.Contains(r.OnExitCodes.Values, 100) {
			return
		}
	}
	t.Errorf("job %s: no podFailurePolicy rule %s on exit codes 99 and 100 of %s", j.Name, action, ctr)
}

// checkSecurity: every container runs as non-root without privileges.
func checkSecurity(t *testing.T, j *batchv1.Job) {
	t.Helper()
	ps := j.Spec.Template.Spec.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot {
		t.Errorf("job %s: runAsNonRoot is not set", j.Name)
	}
	for _, c := range allContainers(&j.Spec.Template.Spec) {
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("job %s container %s: allowPrivilegeEscalation must be false", j.Name, c.Name)
		}
	}
}

// selects reports whether every label of sel is in labels (and sel is not empty).
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func deref(p *int32) any {
	if p == nil {
		return "unset"
	}
	return *p
}
