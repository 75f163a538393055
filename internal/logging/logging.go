// Package logging builds vpclink's zap loggers: JSON, one event per line on
// stderr, with the level in a "severity" field that Cloud Logging reads.
package logging

import (
	"io"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New returns a JSON logger writing to stderr at info level, or debug when
// VPCLINK_DEBUG is set.
func New(component string) *zap.Logger {
	level := zapcore.InfoLevel
	if os.Getenv("VPCLINK_DEBUG") != "" {
		level = zapcore.DebugLevel
	}
	return NewTo(os.Stderr, level).With(zap.String("component", component))
}

// NewTo returns a JSON logger writing to w, for tests and the lab.
func NewTo(w io.Writer, level zapcore.Level) *zap.Logger {
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{
		TimeKey:        "time",
		LevelKey:       "severity",
		MessageKey:     "message",
		CallerKey:      "",
		StacktraceKey:  "",
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeLevel:    encodeSeverity,
		EncodeTime:     zapcore.RFC3339NanoTimeEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
	})
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), level))
}

// encodeSeverity writes Cloud Logging's severity names.
func encodeSeverity(l zapcore.Level, enc zapcore.PrimitiveArrayEncoder) {
	switch l {
	case zapcore.DebugLevel:
		enc.AppendString("DEBUG")
	case zapcore.InfoLevel:
		enc.AppendString("INFO")
	case zapcore.WarnLevel:
		enc.AppendString("WARNING")
	case zapcore.ErrorLevel:
		enc.AppendString("ERROR")
	case zapcore.DPanicLevel, zapcore.PanicLevel:
		enc.AppendString("CRITICAL")
	default:
		enc.AppendString("EMERGENCY")
	}
}
