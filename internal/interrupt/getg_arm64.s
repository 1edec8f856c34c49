#include "textflag.h"

// func getg() uintptr
TEXT ·getg(SB), NOSPLIT, $0-8
	MOVD g, R0
	MOVD R0, ret+0(FP)
	RET

// func stackUsed() uintptr
TEXT ·stackUsed(SB), NOSPLIT, $0-8
	MOVD g, R0
	MOVD 8(R0), R1 // g.stack.hi
	MOVD RSP, R2
	SUB R2, R1, R1
	MOVD R1, ret+0(FP)
	RET
