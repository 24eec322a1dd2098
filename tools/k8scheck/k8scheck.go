// Package k8scheck decodes loadgen's Kubernetes manifests (deploy/k8s)
// strictly into the Kubernetes API types (an unknown or duplicate field is
// an error) and checks that they agree with each other: the shard count N of
// `--shard $(JOB_COMPLETION_INDEX)/N` equals the Indexed Job's completions
// and parallelism and the merge Job's shard list, every reference (ConfigMap,
// Secret, PVC, port, label selector) resolves. Its test is the check:
//
//	cd tools && go test ./k8scheck
package k8scheck

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Manifests are the decoded objects of a manifest directory.
type Manifests struct {
	// Jobs, ConfigMaps, Secrets, Services, PVCs and Namespaces by name.
	Jobs       map[string]*batchv1.Job
	ConfigMaps map[string]*corev1.ConfigMap
	Secrets    map[string]*corev1.Secret
	Services   map[string]*corev1.Service
	PVCs       map[string]*corev1.PersistentVolumeClaim
	Namespaces map[string]*corev1.Namespace
	// PodMonitors are Prometheus Operator PodMonitors (no Go types here:
	// decoded strictly into the subset of the CRD loadgen uses).
	PodMonitors map[string]*PodMonitor
	// Kustomization is kustomization.yaml, when the directory has one.
	Kustomization *Kustomization
	// Files maps each manifest file name to the kinds it holds.
	Files map[string][]string
}

// PodMonitor is the part of monitoring.coreos.com/v1 PodMonitor that the
// manifests use; an unknown field is an error.
type PodMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace,omitempty"`
		Labels    map[string]string `json:"labels,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames,omitempty"`
			Any        bool     `json:"any,omitempty"`
		} `json:"namespaceSelector"`
		PodMetricsEndpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
			Relabelings   []struct {
				SourceLabels []string `json:"sourceLabels,omitempty"`
				TargetLabel  string   `json:"targetLabel,omitempty"`
				Regex        string   `json:"regex,omitempty"`
				Action       string   `json:"action,omitempty"`
				Replacement  string   `json:"replacement,omitempty"`
			} `json:"relabelings,omitempty"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// Kustomization is the part of kustomize.config.k8s.io/v1beta1
// Kustomization that the manifests use; an unknown field is an error.
type Kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources"`
	Labels     []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors,omitempty"`
	} `json:"labels,omitempty"`
	ConfigMapGenerator []struct {
		Name     string   `json:"name"`
		Envs     []string `json:"envs,omitempty"`
		Files    []string `json:"files,omitempty"`
		Literals []string `json:"literals,omitempty"`
	} `json:"configMapGenerator,omitempty"`
	Images []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
}

// Load decodes every *.yaml file of dir (documents split on "---").
func Load(dir string) (*Manifests, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, fmt.Errorf("k8scheck: list %s: %w", dir, err)
	}
	sort.Strings(names)
	m := &Manifests{
		Jobs: map[string]*batchv1.Job{}, ConfigMaps: map[string]*corev1.ConfigMap{},
		Secrets: map[string]*corev1.Secret{}, Services: map[string]*corev1.Service{},
		PVCs: map[string]*corev1.PersistentVolumeClaim{}, Namespaces: map[string]*corev1.Namespace{},
		PodMonitors: map[string]*PodMonitor{}, Files: map[string][]string{},
	}
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("k8scheck: read %s: %w", name, err)
		}
		base := filepath.Base(name)
		for i, doc := range splitDocs(data) {
			kind, err := m.decode(doc)
			if err != nil {
				return nil, fmt.Errorf("k8scheck: %s document %d: %w", base, i+1, err)
			}
			m.Files[base] = append(m.Files[base], kind)
		}
	}
	return m, nil
}

// splitDocs splits a YAML stream on document separators, dropping empty
// (comment-only) documents.
func splitDocs(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(append([]byte("\n"), data...), []byte("\n---")) {
		if hasContent(d) {
			docs = append(docs, d)
		}
	}
	return docs
}

// hasContent reports whether a YAML document has a non-comment line.
func hasContent(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "#") {
			return true
		}
	}
	return false
}

// decode decodes one document strictly by its apiVersion and kind.
func (m *Manifests) decode(doc []byte) (string, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return "", err
	}
	gvk := head.APIVersion + ", Kind=" + head.Kind
	strict := func(obj any) error { return yaml.UnmarshalStrict(doc, obj) }
	switch gvk {
	case "batch/v1, Kind=Job":
		var o batchv1.Job
		if err := strict(&o); err != nil {
			return "", err
		}
		return put(m.Jobs, o.Name, &o, head.Kind)
	case "v1, Kind=ConfigMap":
		var o corev1.ConfigMap
		if err := strict(&o); err != nil {
			return "", err
		}
		return put(m.ConfigMaps, o.Name, &o, head.Kind)
	case "v1, Kind=Secret":
		var o corev1.Secret
		if err := strict(&o); err != nil {
			return "", err
		}
		return put(m.Secrets, o.Name, &o, head.Kind)
	case "v1, Kind=Service":
		var o corev1.Service
		if err := strict(&o); err != nil {
			return "", err
		}
		return put(m.Services, o.Name, &o, head.Kind)
	case "v1, Kind=PersistentVolumeClaim":
		var o corev1.PersistentVolumeClaim
		if err := strict(&o); err != nil {
			return "", err
		}
		return put(m.PVCs, o.Name, &o, head.Kind)
	case "v1, Kind=Namespace":
		var o corev1.Namespace
		if err := strict(&o); err != nil {
			return "", err
		}
		return put(m.Namespaces, o.Name, &o, head.Kind)
	case "monitoring.coreos.com/v1, Kind=PodMonitor":
		var o PodMonitor
		if err := strict(&o); err != nil {
			return "", err
		}
		return put(m.PodMonitors, o.Metadata.Name, &o, head.Kind)
	case "kustomize.config.k8s.io/v1beta1, Kind=Kustomization":
		var o Kustomization
		if err := strict(&o); err != nil {
			return "", err
		}
		if m.Kustomization != nil {
			return "", fmt.Errorf("a second Kustomization")
		}
		m.Kustomization = &o
		return head.Kind, nil
	default:
		return "", fmt.Errorf("unexpected object %q", gvk)
	}
}

// put stores o under name, refusing an empty or repeated name.
func put[T any](into map[string]T, name string, o T, kind string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%s without metadata.name", kind)
	}
	if _, dup := into[name]; dup {
		return "", fmt.Errorf("two %ss named %q", kind, name)
	}
	into[name] = o
	return kind, nil
}

// ReadEnvFile reads a kustomize envs file (KEY=VALUE lines, # comments).
func ReadEnvFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("k8scheck: read %s: %w", path, err)
	}
	env := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("k8scheck: %s:%d: want KEY=VALUE", path, i+1)
		}
		env[k] = v
	}
	return env, nil
}
