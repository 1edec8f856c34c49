// Ordinary Go error handling: an assignment never stops a script, even of
// an error; its value prints as a value. An expression statement whose value
// is a non-nil error does stop it, with exit status 1.
// gsh: -sname gimli
// exit: 1

_, err := strconv.Atoi("x")
if err != nil {
	fmt.Println("handled:", err)
}
e := errors.New("kept")
n, err := strconv.Atoi("12")
n + 1
e
"never printed"

// Output:
// error("strconv.Atoi: parsing \"x\": invalid syntax")
// handled: strconv.Atoi: parsing "x": invalid syntax
// error("kept")
// 12
// 13
// goerrors.gsh:14: ** error: kept
