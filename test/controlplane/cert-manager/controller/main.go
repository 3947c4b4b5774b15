// cert-manager's controller for serin's local cluster: the control loops of the pinned
// github.com/cert-manager/cert-manager release that issue certificates from SelfSigned and CA issuers,
// run behind a Lease. The release's own command lives in a module the Go module proxy does not serve,
// so this file wires the same library packages together; the control loops themselves are upstream's.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	controllerpkg "github.com/cert-manager/cert-manager/pkg/controller"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"

	"serin.test/controlplane/cert-manager/release"

	// Each package registers its control loop with controllerpkg (and the issuers with pkg/issuer).
	"github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	crca "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	crselfsigned "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	"github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

// The loops a SelfSigned or CA issuer needs: issuer readiness, the certificate lifecycle, approval of
// requests, and the two signers.
var controllers = []string{
	issuers.ControllerName,
	clusterissuers.ControllerName,
	approver.ControllerName,
	crca.CRControllerName,
	crselfsigned.CRControllerName,
	trigger.ControllerName,
	issuing.ControllerName,
	keymanager.ControllerName,
	requestmanager.ControllerName,
	readiness.ControllerName,
	revisionmanager.ControllerName,
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cert-manager-controller:", err)
		os.Exit(1)
	}
}

func run() error {
	// A flag set of its own: libraries linked in register flags of the same names on the global one.
	flags := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	kubeconfig := flags.String("kubeconfig", "", "kubeconfig of the controller's identity (required)")
	leaseNamespace := flags.String("leader-election-namespace", "", "namespace of the controller's Lease (required)")
	clusterResourceNamespace := flags.String("cluster-resource-namespace", "", "namespace of ClusterIssuers' Secrets (default: the Lease's namespace)")
	workers := flags.Int("workers", 2, "workers per control loop")
	version := flags.Bool("version", false, "print the cert-manager version and exit")
	klog.InitFlags(flags)
	if err := flags.Parse(os.Args[1:]); err != nil {
		return err
	}
	if *version {
		fmt.Println("cert-manager controller", release.Version())
		return nil
	}
	if *kubeconfig == "" || *leaseNamespace == "" {
		return fmt.Errorf("--kubeconfig and --leader-election-namespace are required")
	}
	if *clusterResourceNamespace == "" {
		*clusterResourceNamespace = *leaseNamespace
	}
	logf.InitLogs()
	defer logf.FlushLogs()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, klog.Background(), "cert-manager-controller")

	factory, err := controllerpkg.NewContextFactory(ctx, controllerpkg.ContextOptions{
		Kubeconfig:         *kubeconfig,
		KubernetesAPIQPS:   20,
		KubernetesAPIBurst: 50,
		IssuerOptions:      controllerpkg.IssuerOptions{ClusterResourceNamespace: *clusterResourceNamespace},
		CertificateOptions: controllerpkg.CertificateOptions{
			CertificateRequestMinimumBackoffDuration: time.Hour,
			CertificateRequestMaximumBackoffDuration: 32 * time.Hour,
			CopiedAnnotationPrefixes:                 []string{"*", "-kubectl.kubernetes.io/"},
		},
	})
	if err != nil {
		return err
	}

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(util.RestConfigWithUserAgent(config, "leader-election"))
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: *leaseNamespace, Name: "cert-manager-controller"},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: fmt.Sprintf("%s_%d", host, os.Getpid())},
	}

	failed := make(chan error, 1)
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   15 * time.Second,
		RenewDeadline:   10 * time.Second,
		RetryPeriod:     2 * time.Second,
		ReleaseOnCancel: true,
		Name:            "cert-manager-controller",
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leading context.Context) {
				if err := runControllers(leading, factory, *workers); err != nil {
					failed <- err
				}
				stop()
			},
			OnStoppedLeading: func() { klog.Info("no longer the leader") },
		},
	})
	select {
	case err := <-failed:
		return err
	default:
		return nil
	}
}

// runControllers builds every loop, then starts the shared informers they registered with, then runs
// the loops until ctx ends.
func runControllers(ctx context.Context, factory *controllerpkg.ContextFactory, workers int) error {
	known := controllerpkg.Known()
	var loops []controllerpkg.Interface
	for _, name := range controllers {
		construct, ok := known[name]
		if !ok {
			return fmt.Errorf("control loop %q is not registered in this cert-manager release", name)
		}
		loop, err := construct(factory)
		if err != nil {
			return fmt.Errorf("building %s: %w", name, err)
		}
		loops = append(loops, loop)
	}
	shared, err := factory.Build("informers")
	if err != nil {
		return err
	}
	shared.KubeSharedInformerFactory.Start(ctx.Done())
	shared.SharedInformerFactory.Start(ctx.Done())
	shared.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
	klog.InfoS("control loops starting", "loops", strings.Join(controllers, ","))

	var wg sync.WaitGroup
	errs := make(chan error, len(loops))
	for i, loop := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := loop.Run(workers, ctx); err != nil {
				errs <- fmt.Errorf("%s: %w", controllers[i], err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}
