// echo-server answers every HTTP request with the pod's name, so a client can tell which
// pod served it. It listens on $PORT (default 8080) on every address of the pod's own
// network namespace, which only the node's bridge reaches.
//
// POST /unready makes /healthz answer 503 from then on while / keeps answering: a
// process whose readiness probe fails but which still serves the connections it has,
// as a failover test needs. On SIGTERM it shuts down as a well-behaved server does:
// it stops accepting, closes idle keep-alive connections, lets requests in flight
// finish, and exits. It is a test image; nothing else should run it.
//
// GET /file answers with the contents of the file $SERVE_FILE names (404 when unset or
// unreadable): a test reads a downward-API volume through it, as an application would.
//
// POST /promote and POST /demote stand for an application's hooks: each call is recorded
// (its path, JSON body, and the pod's clock in ms at its arrival and at its answer) and
// GET /calls lists them as JSON. $DEMOTE_MODE changes /demote: "fail" answers 500,
// "hang" never answers (until the caller gives up); anything else answers 200.
//
// `echo-server get <url>` is the client side of the same image: it fetches the URL once
// (trusting $CA_FILE for https when set) and writes the status and body to the
// termination log, where a test reads it from the pod's status (the kubelet serves no
// logs here). It exits non-zero unless the status is 200.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var unready atomic.Bool

// A hook call as the pod saw it.
type call struct {
	Path       string          `json:"path"`
	Body       json.RawMessage `json:"body"`
	At         int64           `json:"at"`
	AnsweredAt int64           `json:"answeredAt"`
	Status     int             `json:"status"`
}

var (
	callsMu sync.Mutex
	calls   = []call{}
)

func record(c call) {
	callsMu.Lock()
	defer callsMu.Unlock()
	calls = append(calls, c)
}

func hook(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	at := time.Now().UnixMilli()
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
	if !json.Valid(body) {
		body = []byte("null")
	}
	status := http.StatusOK
	if r.URL.Path == "/demote" {
		switch os.Getenv("DEMOTE_MODE") {
		case "fail":
			status = http.StatusInternalServerError
		case "hang":
			// Recorded now, answered never: the caller's timeout ends it.
			record(call{Path: r.URL.Path, Body: body, At: at, AnsweredAt: 0, Status: 0})
			<-r.Context().Done()
			return
		}
	}
	record(call{Path: r.URL.Path, Body: body, At: at, AnsweredAt: time.Now().UnixMilli(), Status: status})
	w.WriteHeader(status)
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "get" {
		os.Exit(get(os.Args[2]))
	}
	name := os.Getenv("POD_NAME")
	if name == "" {
		name, _ = os.Hostname()
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if unready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("/unready", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		unready.Store(true)
		fmt.Fprintln(w, name, "unready")
	})
	http.HandleFunc("/file", func(w http.ResponseWriter, _ *http.Request) {
		path := os.Getenv("SERVE_FILE")
		body, err := os.ReadFile(path)
		if path == "" || err != nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_, _ = w.Write(body)
	})
	http.HandleFunc("/promote", hook)
	http.HandleFunc("/demote", hook)
	http.HandleFunc("/calls", func(w http.ResponseWriter, _ *http.Request) {
		callsMu.Lock()
		defer callsMu.Unlock()
		w.Header().Set("content-type", "application/json")
		_ = json.NewEncoder(w).Encode(calls)
	})
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, name)
	})
	srv := &http.Server{Addr: ":" + port}
	stopped := make(chan struct{})
	go func() {
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		<-term
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		close(stopped)
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	<-stopped
}

func get(url string) int {
	report := func(msg string) {
		fmt.Println(msg)
		_ = os.WriteFile("/dev/termination-log", []byte(msg), 0o644)
	}
	transport := &http.Transport{}
	if ca := os.Getenv("CA_FILE"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			report(err.Error())
			return 2
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		transport.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	client := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	var lastErr error
	// Retries cover the moment between the pod starting and kube-proxy's rules landing.
	for i := 0; i < 20; i++ {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
			resp.Body.Close()
			report(fmt.Sprintf("%d %s", resp.StatusCode, body))
			if resp.StatusCode == 200 {
				return 0
			}
			return 1
		}
		lastErr = err
		time.Sleep(500 * time.Millisecond)
	}
	report(lastErr.Error())
	return 1
}
