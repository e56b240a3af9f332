// Command apiserver_receive_adapter is Knative's ApiServerSource receive adapter,
// started exactly as knative.dev/eventing/cmd/apiserver_receive_adapter starts it,
// with one difference for running outside a cluster: the kubelet health-probe
// server is off. Upstream it always binds every interface on the fixed port 8080,
// which would expose it beyond loopback and stop two adapters running side by side.
package main

import (
	filteredFactory "knative.dev/pkg/client/injection/kube/informers/factory/filtered"
	"knative.dev/pkg/signals"

	"knative.dev/eventing/pkg/adapter/apiserver"
	"knative.dev/eventing/pkg/adapter/v2"
	"knative.dev/eventing/pkg/auth"
	"knative.dev/eventing/pkg/eventingtls"
)

const component = "apiserversource"

func main() {
	ctx := signals.NewContext()
	ctx = adapter.WithInjectorEnabled(ctx)
	ctx = adapter.WithHealthProbesDisabled(ctx)

	ctx = filteredFactory.WithSelectors(ctx,
		auth.OIDCLabelSelector,
		eventingtls.TrustBundleLabelSelector,
	)

	adapter.MainWithContext(ctx, component, apiserver.NewEnvConfig, apiserver.NewAdapter)
}
