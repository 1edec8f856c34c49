// The book's dist_demo across two nodes: bilbo loads the code on both
// (nl), starts the loop on gandalf and has it run functions there, the
// remote file server of the book included.
// gsh: -sname bilbo
// peer: gandalf

gandalf := strings.Replace(string(node()), "bilbo", "gandalf", 1)
net_adm.ping(gandalf)
nl("dist_demo.go")
pid := dist_demo.Start(gandalf)
dist_demo.Rpc(pid, "erlang", "node")
filepath.Base(dist_demo.Rpc(pid, "os", "Getwd").(string))
dist_demo.Rpc(pid, "os", "ReadDir", "testdata/files")
strings.TrimSpace(string(dist_demo.Rpc(pid, "os", "ReadFile", "testdata/files/ring.txt").([]byte)))

// Output:
// gandalf@HOST
// pong
// [bilbo@HOST, gandalf@HOST]
// <gandalf@HOST.2>
// gandalf@HOST
// scripts
// ["ring.txt", "wander.txt"]
// one ring to rule them all
