package frame_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"gsh/cluster/frame"
)

// Two frames written, one in place and one from a body at hand, then read
// back; a third is larger than the reader's limit, which ends the stream.
func Example() {
	b, start := frame.Begin(nil)
	b = append(b, "hello"...)
	frame.End(b, start)
	b = frame.Append(b, []byte("world"))
	b = frame.Append(b, make([]byte, 100))

	br := bufio.NewReader(bytes.NewReader(b))
	for {
		body, err := frame.Read(br, 10, nil)
		switch {
		case errors.Is(err, frame.ErrTooLarge):
			// The rest of the stream cannot be trusted: drop it.
			fmt.Println("refused:", err)
			return
		case err == io.EOF:
			return
		case err != nil:
			fmt.Println(err)
			return
		}
		fmt.Printf("%q\n", body)
	}
	// Output:
	// "hello"
	// "world"
	// refused: frame of 100 bytes over the limit of 10: too large
}
