// keda-decode decodes every ScaledObject and ScaledJob in the YAML streams it is given (files, or stdin) strictly
// with KEDA's own Go types (a ScaledJob's jobTargetRef with Kubernetes' batch/v1 JobSpec): an unknown or mistyped
// field is an error, as it would be for KEDA's API, never silently dropped. It also runs the checks of KEDA's
// admission webhook that need no cluster (triggers, replica bounds, fallback; a ScaledJob's webhook checks only
// its triggers).
// Exit 0: every document decoded (one "ok" line each); exit 1: the first problem, named.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"
)

func decodeStream(name string, r io.Reader) (int, error) {
	reader := yaml.NewYAMLReader(bufio.NewReader(r))
	count := 0
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return count, nil
		}
		if err != nil {
			return count, fmt.Errorf("%s: %w", name, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := sigsyaml.Unmarshal(doc, &meta); err != nil {
			return count, fmt.Errorf("%s: %w", name, err)
		}
		if meta.Kind != "ScaledObject" && meta.Kind != "ScaledJob" {
			continue
		}
		if meta.APIVersion != "keda.sh/v1alpha1" {
			return count, fmt.Errorf("%s: %s with apiVersion %q, not keda.sh/v1alpha1", name, meta.Kind, meta.APIVersion)
		}
		text, err := sigsyaml.YAMLToJSON(doc)
		if err != nil {
			return count, fmt.Errorf("%s: %w", name, err)
		}
		decoder := json.NewDecoder(bytes.NewReader(text))
		decoder.DisallowUnknownFields()
		if meta.Kind == "ScaledJob" {
			err = checkScaledJob(decoder)
		} else {
			err = checkScaledObject(decoder)
		}
		if err != nil {
			return count, fmt.Errorf("%s: %w", name, err)
		}
		count++
	}
}

// decodeWithTriggers decodes one object strictly into `into` and runs the trigger checks of KEDA's webhook (the one
// check its ScaledObject and ScaledJob webhooks share).
func decodeWithTriggers(decoder *json.Decoder, kind string, into interface{ GetName() string },
	triggers func() []kedav1alpha1.ScaleTriggers) error {
	if err := decoder.Decode(into); err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	if err := kedav1alpha1.ValidateTriggers(triggers()); err != nil {
		return fmt.Errorf("%s/%s: triggers: %w", kind, into.GetName(), err)
	}
	return nil
}

func checkScaledObject(decoder *json.Decoder) error {
	var so kedav1alpha1.ScaledObject
	if err := decodeWithTriggers(decoder, "ScaledObject", &so, func() []kedav1alpha1.ScaleTriggers { return so.Spec.Triggers }); err != nil {
		return err
	}
	if err := kedav1alpha1.CheckReplicaCountBoundsAreValid(&so); err != nil {
		return fmt.Errorf("ScaledObject/%s: replicas: %w", so.Name, err)
	}
	if err := kedav1alpha1.CheckFallbackValid(&so); err != nil {
		return fmt.Errorf("ScaledObject/%s: fallback: %w", so.Name, err)
	}
	if so.Spec.MaxReplicaCount == nil {
		return fmt.Errorf("ScaledObject/%s: no maxReplicaCount (KEDA would default it to 100)", so.Name)
	}
	fmt.Printf("ok ScaledObject/%s/%s target=%s min=%d max=%d triggers=%d\n", so.Namespace, so.Name,
		so.Spec.ScaleTargetRef.Name, derefInt(so.Spec.MinReplicaCount), *so.Spec.MaxReplicaCount, len(so.Spec.Triggers))
	return nil
}

func checkScaledJob(decoder *json.Decoder) error {
	var sj kedav1alpha1.ScaledJob
	if err := decodeWithTriggers(decoder, "ScaledJob", &sj, func() []kedav1alpha1.ScaleTriggers { return sj.Spec.Triggers }); err != nil {
		return err
	}
	if sj.Spec.MaxReplicaCount == nil {
		return fmt.Errorf("ScaledJob/%s: no maxReplicaCount (KEDA would default it to 100)", sj.Name)
	}
	job := sj.Spec.JobTargetRef
	if job == nil || len(job.Template.Spec.Containers) == 0 {
		return fmt.Errorf("ScaledJob/%s: no jobTargetRef.template with containers", sj.Name)
	}
	fmt.Printf("ok ScaledJob/%s/%s min=%d max=%d strategy=%s rollout=%s backoffLimit=%d activeDeadlineSeconds=%d "+
		"restartPolicy=%s containers=%d initContainers=%d triggers=%d\n", sj.Namespace, sj.Name,
		sj.MinReplicaCount(), *sj.Spec.MaxReplicaCount, orDefault(sj.Spec.ScalingStrategy.Strategy),
		orDefault(sj.Spec.Rollout.Strategy), derefInt(job.BackoffLimit), derefInt64(job.ActiveDeadlineSeconds),
		job.Template.Spec.RestartPolicy, len(job.Template.Spec.Containers), len(job.Template.Spec.InitContainers),
		len(sj.Spec.Triggers))
	return nil
}

func orDefault(v string) string {
	if v == "" {
		return "(default)"
	}
	return v
}

func derefInt64(v *int64) int64 {
	if v == nil {
		return 0
	}
	return *v
}

func derefInt(v *int32) int32 {
	if v == nil {
		return 0
	}
	return *v
}

func main() {
	total := 0
	inputs := os.Args[1:]
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	for _, name := range inputs {
		var r io.Reader = os.Stdin
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				fmt.Fprintln(os.Stderr, "keda-decode:", err)
				os.Exit(1)
			}
			defer f.Close()
			r = f
		}
		n, err := decodeStream(name, r)
		total += n
		if err != nil {
			fmt.Fprintln(os.Stderr, "keda-decode:", err)
			os.Exit(1)
		}
	}
	if total == 0 {
		fmt.Fprintln(os.Stderr, "keda-decode: no ScaledObject or ScaledJob in the input")
		os.Exit(1)
	}
}
