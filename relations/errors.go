package relations

import (
	"errors"
	"fmt"
)

// Code classifies an Error for callers; transports map each code once.
type Code string

// Error codes. Every error the package returns carries one of them.
const (
	// CodeUnauthenticated: no identity was given.
	CodeUnauthenticated Code = "UNAUTHENTICATED"
	// CodeForbidden: the actor may see the object but may not do this to it.
	CodeForbidden Code = "FORBIDDEN"
	// CodeNotFound: the object does not exist or the actor may not read it;
	// the two are deliberately indistinguishable.
	CodeNotFound Code = "NOT_FOUND"
	// CodeInvalid: the input is malformed; Field names the offending input.
	CodeInvalid Code = "BAD_USER_INPUT"
	// CodeConflict: a name is taken, the last admin would be lost, or a
	// concurrent change won; retrying after a fresh read may succeed.
	CodeConflict Code = "CONFLICT"
	// CodeUnavailable: the relation graph could not be reached.
	CodeUnavailable Code = "UNAVAILABLE"
	// CodeInternal: a bug or an unexpected failure.
	CodeInternal Code = "INTERNAL"
)

// Error is the one error type of the domain.
type Error struct {
	Code    Code
	Message string
	// Field names the input at fault, for CodeInvalid.
	Field string
	// Err is the cause, if any; it is never shown to end users.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code of err, CodeInternal for an error that is not an
// *Error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}
