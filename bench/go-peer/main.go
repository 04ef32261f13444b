// The Go peer of `npm run bench:operator`: the smallest controller-runtime operator that does
// what Lathe's ModelVersion controller does with no object store configured, so the two can
// be compared on the same API server with the same objects.
//
// Per ModelVersion it reads the object from the informer cache, computes the status Lathe
// writes in that case (ArtifactVerified=False, Ready=False, Stalled=True, reason
// StorageNotConfigured, observedGeneration, stage), applies it to the status subresource with
// server-side apply only when it differs (lastTransitionTime ignored), records a Warning event
// and returns a terminal error (no retry until the object changes) — the same API writes as
// Lathe. ModelVersions are read as unstructured objects (no generated Go types), cached with
// managedFields stripped (Lathe strips them too).
//
// Flags mirror what the benchmark varies: namespace, client QPS/burst, workers, log level. It prints one
// line "ready" on stderr once its cache has synced.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"go.uber.org/zap/zapcore"
)

var modelVersionGVK = schema.GroupVersionKind{Group: "lathe.dev", Version: "v1alpha1", Kind: "ModelVersion"}

const (
	fieldManager = "go-peer"
	reason       = "StorageNotConfigured"
	message      = "The operator has no object store configured (LATHE_OBJECT_STORE_ENDPOINT and credentials)"
)

type reconciler struct {
	client   client.Client
	recorder record.EventRecorder
}

func (r *reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	mv := &unstructured.Unstructured{}
	mv.SetGroupVersionKind(modelVersionGVK)
	if err := r.client.Get(ctx, req.NamespacedName, mv); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if mv.GetDeletionTimestamp() != nil {
		return reconcile.Result{}, nil
	}
	current, _, _ := unstructured.NestedMap(mv.Object, "status")
	desired := desiredStatus(mv, current, time.Now())
	if !statusEqual(current, desired) {
		patch := &unstructured.Unstructured{Object: map[string]interface{}{
			"apiVersion": modelVersionGVK.GroupVersion().String(),
			"kind":       modelVersionGVK.Kind,
			"metadata":   map[string]interface{}{"name": mv.GetName(), "namespace": mv.GetNamespace()},
			"status":     desired,
		}}
		if err := r.client.Status().Patch(ctx, patch, client.Apply, client.FieldOwner(fieldManager), client.ForceOwnership); err != nil {
			if apierrors.IsConflict(err) {
				return reconcile.Result{}, err
			}
			return reconcile.Result{}, fmt.Errorf("failed to update the status of ModelVersion %s: %w", req, err)
		}
	}
	r.recorder.Event(mv, corev1.EventTypeWarning, reason, message)
	return reconcile.Result{}, reconcile.TerminalError(errors.New(message))
}

// desiredStatus is Lathe's modelVersionStatus for a failed verification: the three
// conditions (keeping lastTransitionTime when a condition's status is unchanged), the
// observed generation and the stage.
func desiredStatus(mv *unstructured.Unstructured, current map[string]interface{}, now time.Time) map[string]interface{} {
	generation := mv.GetGeneration()
	stamp := now.UTC().Format(time.RFC3339)
	previous := map[string]map[string]interface{}{}
	if list, ok := current["conditions"].([]interface{}); ok {
		for _, c := range list {
			if m, ok := c.(map[string]interface{}); ok {
				if t, ok := m["type"].(string); ok {
					previous[t] = m
				}
			}
		}
	}
	condition := func(kind, status string) interface{} {
		transition := stamp
		if old, ok := previous[kind]; ok && old["status"] == status {
			if t, ok := old["lastTransitionTime"].(string); ok {
				transition = t
			}
		}
		return map[string]interface{}{
			"type": kind, "status": status, "reason": reason, "message": message,
			"lastTransitionTime": transition, "observedGeneration": generation,
		}
	}
	stage, _, _ := unstructured.NestedString(mv.Object, "spec", "stage")
	if stage == "" {
		stage = "none"
	}
	stageTransition := stamp
	if old, ok := current["stageTransitionTime"].(string); ok && current["stage"] == stage {
		stageTransition = old
	}
	return map[string]interface{}{
		"observedGeneration": generation,
		"conditions": []interface{}{
			condition("ArtifactVerified", "False"),
			condition("Ready", "False"),
			condition("Stalled", "True"),
		},
		"stage":               stage,
		"stageTransitionTime": stageTransition,
	}
}

// statusEqual compares two statuses as JSON values, ignoring the conditions'
// lastTransitionTime (as Lathe's statusEqual does).
func statusEqual(a, b map[string]interface{}) bool {
	return reflect.DeepEqual(normalise(a), normalise(b))
}

func normalise(status map[string]interface{}) interface{} {
	out := map[string]interface{}{}
	for k, v := range status {
		out[k] = jsonValue(v)
	}
	if list, ok := out["conditions"].([]interface{}); ok {
		stripped := make([]interface{}, len(list))
		for i, c := range list {
			if m, ok := c.(map[string]interface{}); ok {
				copy := map[string]interface{}{}
				for k, v := range m {
					if k != "lastTransitionTime" {
						copy[k] = v
					}
				}
				stripped[i] = copy
			} else {
				stripped[i] = c
			}
		}
		out["conditions"] = stripped
	}
	return out
}

// jsonValue makes numbers comparable: decoded JSON holds int64, computed values int64 too,
// but nested maps are walked so both sides have the same shapes.
func jsonValue(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		out := map[string]interface{}{}
		for k, x := range t {
			out[k] = jsonValue(x)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, x := range t {
			out[i] = jsonValue(x)
		}
		return out
	case int:
		return int64(t)
	case float64:
		return int64(t)
	default:
		return v
	}
}

func main() {
	namespace := flag.String("namespace", "", "the one namespace to watch (required)")
	qps := flag.Float64("qps", 20, "client QPS (controller-runtime's default 20; negative: no client-side limit)")
	burst := flag.Int("burst", 30, "client burst (controller-runtime's default 30)")
	workers := flag.Int("workers", 2, "MaxConcurrentReconciles")
	logLevel := flag.String("log-level", "info", "zap level: debug, info, warn, error, dpanic (quiet: a terminal error is logged at error)")
	flag.Parse()
	level, err := zapcore.ParseLevel(*logLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "--log-level: %v\n", err)
		os.Exit(2)
	}
	if *namespace == "" {
		fmt.Fprintln(os.Stderr, "--namespace is required")
		os.Exit(2)
	}
	ctrl.SetLogger(zap.New(zap.Level(level)))

	config := ctrl.GetConfigOrDie()
	config.QPS = float32(*qps)
	config.Burst = *burst
	manager, err := ctrl.NewManager(config, ctrl.Options{
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache: cache.Options{
			DefaultNamespaces: map[string]cache.Config{*namespace: {}},
			DefaultTransform:  cache.TransformStripManagedFields(),
		},
		Client: client.Options{Cache: &client.CacheOptions{Unstructured: true}},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "Failed to create the manager: %v\n", err)
		os.Exit(1)
	}
	watched := &unstructured.Unstructured{}
	watched.SetGroupVersionKind(modelVersionGVK)
	err = ctrl.NewControllerManagedBy(manager).
		Named("modelversion").
		For(watched).
		WithOptions(controller.Options{MaxConcurrentReconciles: *workers}).
		Complete(&reconciler{client: manager.GetClient(), recorder: manager.GetEventRecorderFor("go-peer")})
	if err != nil {
		fmt.Fprintf(os.Stderr, "Failed to create the controller: %v\n", err)
		os.Exit(1)
	}
	ctx := ctrl.SetupSignalHandler()
	go func() {
		// GetInformer blocks until the started cache has synced the informer.
		<-manager.Elected()
		if _, err := manager.GetCache().GetInformer(ctx, watched); err == nil {
			fmt.Fprintln(os.Stderr, "ready")
		}
	}()
	if err := manager.Start(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "The manager stopped: %v\n", err)
		os.Exit(1)
	}
}
