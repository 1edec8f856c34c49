module gsh

go 1.26

require (
	github.com/chzyer/readline v1.5.1 // indirect
	github.com/creack/pty v1.1.24 // indirect
	github.com/fxamacker/cbor/v2 v2.10.0 // indirect
	github.com/hashicorp/yamux v0.1.2 // indirect
	github.com/traefik/yaegi v0.16.1 // indirect
	github.com/x448/float16 v0.8.4 // indirect
	go.etcd.io/bbolt v1.4.3 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/sys v0.29.0 // indirect
)
