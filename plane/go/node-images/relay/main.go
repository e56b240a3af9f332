// relay copies TCP connections from one address to another. The API server listens on
// loopback only; the real node's pods reach it through this relay on the bridge address
// (the endpoint of the `kubernetes` Service), which only the node's own bridge can reach.
package main

import (
	"io"
	"log"
	"net"
	"os"
	"sync"
)

func main() {
	if len(os.Args) != 3 {
		log.Fatalf("usage: relay <listen host:port> <target host:port>")
	}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	for {
		in, err := ln.Accept()
		if err != nil {
			log.Print(err)
			continue
		}
		go pipe(in, os.Args[2])
	}
}

func pipe(in net.Conn, target string) {
	defer in.Close()
	out, err := net.Dial("tcp", target)
	if err != nil {
		log.Print(err)
		return
	}
	defer out.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); io.Copy(out, in); out.(*net.TCPConn).CloseWrite() }()
	go func() { defer wg.Done(); io.Copy(in, out); in.(*net.TCPConn).CloseWrite() }()
	wg.Wait()
}
