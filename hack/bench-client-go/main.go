// bench-client-go: the client-go side of tests/bench/kube. It runs a ConfigMap informer (the
// shared informer factory, as controllers do) over one namespace of a cluster and prints one JSON
// line: initial LIST+sync time, Go heap per cached object, process RSS, and update->handler
// latency percentiles (each update request included), for comparison with dso::kube's informer.
//
// Built with GO111MODULE=off against the client-go vendored in Debian's kubernetes source tree:
// see build.sh next to this file.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

func rssBytes() int64 {
	data, err := ioutil.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return -1
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted)-1) + 0.5)
	return sorted[i]
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig file")
	namespace := flag.String("namespace", "kube-bench", "namespace of the ConfigMaps")
	updates := flag.Int("updates", 500, "number of timed updates")
	prefix := flag.String("prefix", "bench-", "name prefix of the ConfigMaps to update")
	flag.Parse()

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeconfig:", err)
		os.Exit(2)
	}
	config.QPS = 1000
	config.Burst = 1000
	client := kubernetes.NewForConfigOrDie(config)

	seen := make(chan string, 1024)
	heapBefore := heapAfterGC()
	start := time.Now()
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(*namespace))
	informer := factory.Core().V1().ConfigMaps().Informer()
	informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj interface{}) {
			cm := obj.(*corev1.ConfigMap)
			if seq, ok := cm.Data["seq"]; ok {
				select {
				case seen <- cm.Name + "/" + seq:
				default:
				}
			}
		},
	})
	stop := make(chan struct{})
	factory.Start(stop)
	if !cache.WaitForCacheSync(stop, informer.HasSynced) {
		fmt.Fprintln(os.Stderr, "cache did not sync")
		os.Exit(1)
	}
	syncSeconds := time.Since(start).Seconds()
	objects := len(informer.GetStore().ListKeys())
	heapAfter := heapAfterGC()
	rss := rssBytes()

	lister := factory.Core().V1().ConfigMaps().Lister().ConfigMaps(*namespace)
	latencies := make([]float64, 0, *updates)
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	for i := 0; i < *updates; i++ {
		name := fmt.Sprintf("%s%d", *prefix, i%objects)
		current, err := lister.Get(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "lister:", err)
			os.Exit(1)
		}
		next := current.DeepCopy()
		seq := "go-" + runID + "-" + strconv.Itoa(i)
		next.Data["seq"] = seq
		t0 := time.Now()
		if _, err := client.CoreV1().ConfigMaps(*namespace).Update(context.TODO(), next, metav1.UpdateOptions{}); err != nil {
			fmt.Fprintln(os.Stderr, "update:", err)
			os.Exit(1)
		}
		want := name + "/" + seq
		for got := range seen {
			if got == want {
				break
			}
		}
		latencies = append(latencies, float64(time.Since(t0).Microseconds())/1000.0)
	}
	close(stop)
	sort.Float64s(latencies)
	out, _ := json.Marshal(map[string]interface{}{
		"peer":                  "client-go (vendored in kubernetes 1.20.2, go " + runtime.Version() + ")",
		"objects":               objects,
		"sync_s":                syncSeconds,
		"heap_per_object_bytes": float64(heapAfter-heapBefore) / float64(objects),
		"rss_mb":                float64(rss) / (1 << 20),
		"p50_ms":                percentile(latencies, 0.50),
		"p99_ms":                percentile(latencies, 0.99),
		"updates":               len(latencies),
	})
	fmt.Println(string(out))
}
