// netpol-oracle: the decisions of SIG Network's reference NetworkPolicy engine (sigs.k8s.io/kube-network-policies,
// AdminNetworkPolicy and BaselineAdminNetworkPolicy included) without a kernel, an API server or a kubelet.
//
//	netpol-oracle --objects OBJECTS.yaml < packets.jsonl > verdicts.jsonl
//
// OBJECTS.yaml is a YAML stream: the render and the stand-ins around it (Namespaces, Pods with status.podIPs,
// Nodes). Namespaces, Pods, Nodes, networking.k8s.io/v1 NetworkPolicies and policy.networking.k8s.io/v1alpha1
// (Baseline)AdminNetworkPolicies are served to the engine by client-go's fake clientsets through the same informers
// the engine uses in a cluster; other objects are skipped (counted on stderr). Each object gets the defaults the
// API server would store (policyTypes, protocols, the namespace name label), since the engine reads stored objects.
//
// Each stdin line is a packet, {"id": any, "src": IP, "dst": IP, "protocol": "TCP"|"UDP"|"SCTP", "port": N}; each
// stdout line is the engine's verdict for it, the input echoed with "allowed" and the pods the engine assigned to
// both addresses ("" for none). Unreadable input exits 2 with the reason on stderr; nothing is guessed.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
	npav1alpha1 "sigs.k8s.io/network-policy-api/apis/v1alpha1"
	npafake "sigs.k8s.io/network-policy-api/pkg/client/clientset/versioned/fake"
	npainformers "sigs.k8s.io/network-policy-api/pkg/client/informers/externalversions"
	"sigs.k8s.io/yaml"
)

const nodeName = "netpol-oracle"

type objects struct {
	core    []runtime.Object
	admin   []runtime.Object
	skipped int
}

func main() {
	path := flag.String("objects", "", "YAML stream of the render and its stand-ins")
	flag.Parse()
	if *path == "" || flag.NArg() != 0 {
		fail(errors.New("usage: netpol-oracle --objects OBJECTS.yaml < packets.jsonl"))
	}
	objs, err := readObjects(*path)
	if err != nil {
		fail(fmt.Errorf("%s: %w", *path, err))
	}
	controller, err := engine(objs)
	if err != nil {
		fail(err)
	}
	fmt.Fprintf(os.Stderr, "netpol-oracle: %d objects served, %d skipped (kinds the engine does not read)\n",
		len(objs.core)+len(objs.admin), objs.skipped)
	if err := judge(controller, os.Stdin, os.Stdout); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "netpol-oracle: %v\n", err)
	os.Exit(2)
}

// engine is the reference engine's controller over fake clientsets holding the objects, its caches synced.
func engine(objs objects) (*networkpolicy.Controller, error) {
	client := fake.NewSimpleClientset(objs.core...)
	npaClient := npafake.NewSimpleClientset(objs.admin...)
	factory := informers.NewSharedInformerFactory(client, 0)
	npaFactory := npainformers.NewSharedInformerFactory(npaClient, 0)
	anp := npaFactory.Policy().V1alpha1().AdminNetworkPolicies()
	banp := npaFactory.Policy().V1alpha1().BaselineAdminNetworkPolicies()
	controller, err := networkpolicy.NewController(client,
		factory.Networking().V1().NetworkPolicies(), factory.Core().V1().Namespaces(), factory.Core().V1().Pods(),
		factory.Core().V1().Nodes(), npaClient, anp, banp,
		networkpolicy.Config{AdminNetworkPolicy: true, BaselineAdminNetworkPolicy: true, NodeName: nodeName,
			NRIdisabled: true})
	if err != nil {
		return nil, err
	}
	stop := make(chan struct{})
	factory.Start(stop)
	npaFactory.Start(stop)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for kind, synced := range factory.WaitForCacheSync(ctx.Done()) {
		if !synced {
			return nil, fmt.Errorf("the %v informer did not sync", kind)
		}
	}
	for kind, synced := range npaFactory.WaitForCacheSync(ctx.Done()) {
		if !synced {
			return nil, fmt.Errorf("the %v informer did not sync", kind)
		}
	}
	if !cache.WaitForCacheSync(ctx.Done(), anp.Informer().HasSynced, banp.Informer().HasSynced) {
		return nil, errors.New("the admin network policy informers did not sync")
	}
	return controller, nil
}

type packet struct {
	ID       json.RawMessage `json:"id,omitempty"`
	Src      string          `json:"src"`
	Dst      string          `json:"dst"`
	Protocol string          `json:"protocol"`
	Port     int             `json:"port"`
}

type verdict struct {
	packet
	Allowed bool   `json:"allowed"`
	SrcPod  string `json:"srcPod"`
	DstPod  string `json:"dstPod"`
}

func judge(controller *networkpolicy.Controller, in io.Reader, out io.Writer) error {
	scanner := bufio.NewScanner(in)
	scanner.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	writer := bufio.NewWriter(out)
	defer writer.Flush()
	encoder := json.NewEncoder(writer)
	ctx := context.Background()
	for number := 1; scanner.Scan(); number++ {
		line := bytes.TrimSpace(scanner.Bytes())
		if len(line) == 0 {
			continue
		}
		var p packet
		decoder := json.NewDecoder(bytes.NewReader(line))
		decoder.DisallowUnknownFields()
		if err := decoder.Decode(&p); err != nil {
			return fmt.Errorf("packet line %d: %w", number, err)
		}
		src, dst := net.ParseIP(p.Src), net.ParseIP(p.Dst)
		protocol := corev1.Protocol(p.Protocol)
		switch {
		case src == nil || dst == nil:
			return fmt.Errorf("packet line %d: src %q and dst %q must be IP addresses", number, p.Src, p.Dst)
		case (src.To4() == nil) != (dst.To4() == nil):
			return fmt.Errorf("packet line %d: src %s and dst %s are not of one IP family", number, src, dst)
		case protocol != corev1.ProtocolTCP && protocol != corev1.ProtocolUDP && protocol != corev1.ProtocolSCTP:
			return fmt.Errorf("packet line %d: protocol %q is not TCP, UDP or SCTP", number, p.Protocol)
		case p.Port < 1 || p.Port > 65535:
			return fmt.Errorf("packet line %d: port %d is not 1-65535", number, p.Port)
		}
		allowed := controller.Verdict(ctx, src, dst, protocol, 40000, p.Port)
		if err := encoder.Encode(verdict{p, allowed, podName(controller.PodAt(src)), podName(controller.PodAt(dst))}); err != nil {
			return err
		}
	}
	return scanner.Err()
}

func podName(pod *corev1.Pod) string {
	if pod == nil {
		return ""
	}
	return pod.Namespace + "/" + pod.Name
}

// readObjects decodes the stream strictly (an unknown field is an error) into the kinds the engine reads.
func readObjects(path string) (objects, error) {
	var out objects
	file, err := os.Open(path)
	if err != nil {
		return out, err
	}
	defer file.Close()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(file))
	for index := 0; ; index++ {
		document, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("document %d: %w", index, err)
		}
		data, err := yaml.YAMLToJSON(document)
		if err != nil {
			return out, fmt.Errorf("document %d: %w", index, err)
		}
		if t := bytes.TrimSpace(data); len(t) == 0 || string(t) == "null" {
			continue
		}
		if err := out.add(data); err != nil {
			return out, fmt.Errorf("document %d: %w", index, err)
		}
	}
}

func (o *objects) add(data []byte) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return err
	}
	switch head.APIVersion + " " + head.Kind {
	case "v1 Namespace":
		ns := &corev1.Namespace{}
		if err := strict(data, ns); err != nil {
			return err
		}
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[corev1.LabelMetadataName] = ns.Name
		o.core = append(o.core, ns)
	case "v1 Pod":
		pod := &corev1.Pod{}
		if err := strict(data, pod); err != nil {
			return err
		}
		defaultNamespace(&pod.Namespace)
		for i := range pod.Spec.Containers {
			for j := range pod.Spec.Containers[i].Ports {
				defaultProtocol(&pod.Spec.Containers[i].Ports[j].Protocol)
			}
		}
		o.core = append(o.core, pod)
	case "v1 Node":
		node := &corev1.Node{}
		if err := strict(data, node); err != nil {
			return err
		}
		o.core = append(o.core, node)
	case "networking.k8s.io/v1 NetworkPolicy":
		policy := &networkingv1.NetworkPolicy{}
		if err := strict(data, policy); err != nil {
			return err
		}
		defaultNetworkPolicy(policy)
		o.core = append(o.core, policy)
	case "policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy",
		"policy.networking.k8s.io/v1alpha1 BaselineAdminNetworkPolicy":
		policy, err := adminPolicy(head.Kind, data)
		if err != nil {
			return err
		}
		o.admin = append(o.admin, policy)
	default:
		o.skipped++
	}
	return nil
}

// adminPolicy decodes an AdminNetworkPolicy or a BaselineAdminNetworkPolicy with its CRD's defaults applied as the
// API server applies them, to the JSON before decoding: a rule port's portNumber or portRange protocol is TCP.
func adminPolicy(kind string, data []byte) (runtime.Object, error) {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	spec, _ := doc["spec"].(map[string]any)
	for _, direction := range []string{"ingress", "egress"} {
		rules, _ := spec[direction].([]any)
		for _, rule := range rules {
			fields, _ := rule.(map[string]any)
			ports, _ := fields["ports"].([]any)
			for _, port := range ports {
				entry, _ := port.(map[string]any)
				for _, field := range []string{"portNumber", "portRange"} {
					if value, ok := entry[field].(map[string]any); ok && value["protocol"] == nil {
						value["protocol"] = string(corev1.ProtocolTCP)
					}
				}
			}
		}
	}
	defaulted, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var policy runtime.Object = &npav1alpha1.AdminNetworkPolicy{}
	if kind == "BaselineAdminNetworkPolicy" {
		policy = &npav1alpha1.BaselineAdminNetworkPolicy{}
	}
	return policy, strict(defaulted, policy)
}

func strict(data []byte, into any) error {
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.DisallowUnknownFields()
	return decoder.Decode(into)
}

// The API server's defaults for what the engine reads (k8s.io/kubernetes pkg/apis/{core,networking}/v1 defaults).

func defaultNamespace(namespace *string) {
	if *namespace == "" {
		*namespace = "default"
	}
}

func defaultProtocol(protocol *corev1.Protocol) {
	if *protocol == "" {
		*protocol = corev1.ProtocolTCP
	}
}

func defaultNetworkPolicy(policy *networkingv1.NetworkPolicy) {
	defaultNamespace(&policy.Namespace)
	if len(policy.Spec.PolicyTypes) == 0 {
		policy.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(policy.Spec.Egress) != 0 {
			policy.Spec.PolicyTypes = append(policy.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
	for i := range policy.Spec.Ingress {
		defaultPorts(policy.Spec.Ingress[i].Ports)
	}
	for i := range policy.Spec.Egress {
		defaultPorts(policy.Spec.Egress[i].Ports)
	}
}

func defaultPorts(ports []networkingv1.NetworkPolicyPort) {
	for i := range ports {
		if ports[i].Protocol == nil {
			tcp := corev1.ProtocolTCP
			ports[i].Protocol = &tcp
		}
	}
}
