package kubectl

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/component-base/logs"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// embed adapts the kubectl tree to run as a subcommand of another binary, doing
// what upstream's main and cobra's root-only handling would otherwise do:
//
//   - the klog flags (-v, --vmodule, ...) and their set-up, which upstream adds in
//     component-base's cli.RunNoErrOutput;
//   - kubectl's own error reporting ("error: ..." and exit 1, through CheckErr) for
//     the usage errors cobra returns to the parent: bad flags, missing required
//     flags, unknown commands;
//   - `help COMMAND`, which cobra only adds to the top of a tree;
//   - the default handling of SIGINT and SIGTERM, which a parent's
//     signal.NotifyContext would otherwise swallow, so that Ctrl-C still stops
//     `logs -f`, `proxy` and the rest.
func embed(root *cobra.Command) {
	logs.AddFlags(root.PersistentFlags())

	pre := root.PersistentPreRunE
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		logs.InitLogs()
		// cobra checks these after this hook and returns what it finds.
		cmdutil.CheckErr(cmd.ValidateRequiredFlags())
		cmdutil.CheckErr(cmd.ValidateFlagGroups())
		if pre != nil {
			cmdutil.CheckErr(pre(cmd, args))
		}
		return nil
	}
	post := root.PersistentPostRunE
	root.PersistentPostRunE = func(cmd *cobra.Command, args []string) error {
		defer logs.FlushLogs()
		if post != nil {
			cmdutil.CheckErr(post(cmd, args))
		}
		return nil
	}

	// Below the top of a tree cobra accepts any arguments to a command that has
	// subcommands, so `skiff kubectl gett` would print help and succeed.
	root.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			cmdutil.CheckErr(unknownCommand(cmd, args[0]))
		}
		return nil
	}
	root.SetHelpCommand(helpCommand(root))
	root.InitDefaultHelpCmd()

	// Flag errors: kubectl gives every command the same handler (diff has its own).
	var visit func(c *cobra.Command)
	visit = func(c *cobra.Command) {
		if flagErr := c.FlagErrorFunc(); flagErr != nil {
			c.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
				cmdutil.CheckErr(flagErr(c, err))
				return nil
			})
		}
		for _, sub := range c.Commands() {
			visit(sub)
		}
	}
	visit(root)
}

// unknownCommand is cobra's message for an unknown command at the top of a tree.
func unknownCommand(cmd *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, which only its own lookup sets
	}
	if suggestions := cmd.SuggestionsFor(name); len(suggestions) > 0 {
		msg += "\n\nDid you mean this?\n"
		for _, s := range suggestions {
			msg += "\t" + s + "\n"
		}
	}
	return errors.New(msg)
}

// helpCommand is cobra's `help [command]`, looking commands up in this tree
// rather than in the whole binary's.
func helpCommand(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Run: func(c *cobra.Command, args []string) {
			target, _, err := root.Find(args)
			if target == nil || err != nil {
				c.Printf("Unknown help topic %#q\n", args)
				cmdutil.CheckErr(root.Usage())
				return
			}
			cmdutil.CheckErr(target.Help())
		},
	}
}
