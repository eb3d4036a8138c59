package main

import (
	"github.com/rebasekit/rebasekit/pkg/linestream"
	"github.com/urfave/cli/v2"
)

// shardFlag is --shard I/N, or the zero Shard (all) when not given.
func shardFlag(c *cli.Context) (linestream.Shard, error) {
	if !c.IsSet("shard") {
		return linestream.Shard{}, nil
	}
	s, err := linestream.ParseShard(c.String("shard"))
	if err != nil {
		return s, cli.Exit("--shard "+err.Error(), exitUsage)
	}
	return s, nil
}
