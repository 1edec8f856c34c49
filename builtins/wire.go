package builtins

import "io/fs"

// wireValue turns results that have no wire form into ones that do: a
// directory entry becomes its name, file information a map of its fields,
// and slices of them likewise. Everything else passes unchanged.
func wireValue(v any) any {
	switch x := v.(type) {
	case fs.DirEntry:
		return x.Name()
	case fs.FileInfo:
		return fileInfo(x)
	case []fs.DirEntry:
		out := make([]any, len(x))
		for i, d := range x {
			out[i] = d.Name()
		}
		return out
	case []fs.FileInfo:
		out := make([]any, len(x))
		for i, f := range x {
			out[i] = fileInfo(f)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = wireValue(e)
		}
		return x
	}
	return v
}

func fileInfo(f fs.FileInfo) map[string]any {
	return map[string]any{"name": f.Name(), "size": f.Size(), "mode": f.Mode().String(), "modtime": f.ModTime(), "dir": f.IsDir()}
}

// apply runs module.function(args...) on this node, as a call from another
// node would, and gives its result, or its error as a value (Erlang's
// catch apply(M, F, A)).
func (e *Env) apply(module, function string, args ...any) any {
	v, err := e.HandleCall(currentCtx(), e.Node.Name(), module, function, args)
	if err != nil {
		return err
	}
	return v
}
