"""Managing commands: `rename-run`, `delete-run`, `rename-dataset`, `delete-dataset`.

A delete without `--yes` only says what would go and exits 2, so nothing is removed by a
command typed to look.
"""

import sys

from segcore.errors import ConfigError
from segcore.workspace import workspace_root


def register(subparsers):
    name = subparsers.add_parser("rename-run", help="set (or clear) the name shown beside a run's id")
    name.add_argument("--run", required=True, help="run id")
    name.add_argument("--name", required=True, metavar="TEXT",
                      help="letters, digits, '.', '_' or '-'; an empty name clears it")
    name.set_defaults(handler=rename_run)

    delete = subparsers.add_parser("delete-run", help="delete a run that is not training")
    delete.add_argument("--run", required=True, help="run id")
    delete.add_argument("--yes", action="store_true", help="delete (without it: say what goes)")
    delete.set_defaults(handler=delete_run)

    rename = subparsers.add_parser("rename-dataset",
                                   help="rename a dataset; the runs trained on it follow")
    rename.add_argument("--dataset", required=True, help="dataset name in the workspace")
    rename.add_argument("--name", required=True, help="its new name")
    rename.set_defaults(handler=rename_dataset)

    drop = subparsers.add_parser("delete-dataset",
                                 help="delete a dataset no run is training on")
    drop.add_argument("--dataset", required=True, help="dataset name in the workspace")
    drop.add_argument("--yes", action="store_true", help="delete (without it: say what goes)")
    drop.set_defaults(handler=delete_dataset)


def rename_run(args):
    from segcore import runs

    root = workspace_root(args.workspace)
    name = runs.name_run(root, args.run, args.name)
    print(runs.run_label(args.run, name))
    return 0


def delete_run(args):
    from segcore import manage

    root = workspace_root(args.workspace)
    if not args.yes:
        manage.check_run_deletable(root, args.run)
        plan = manage.run_plan(root, args.run)
        print(f"would delete run {plan['label']} ({plan['state']}): {plan['files']} files, "
              f"{plan['size']}, {plan['path']}")
        raise ConfigError(f"nothing deleted: give --yes to delete run {plan['run_id']}.")
    plan = manage.delete_run(root, args.run)
    print(f"deleted run {plan['label']}: {plan['files']} files, {plan['size']}")
    return 0


def rename_dataset(args):
    from segcore import manage

    root = workspace_root(args.workspace)
    users = [r.run_id for r in manage.dataset_runs(root, args.dataset)]
    print(manage.rename_dataset(root, args.dataset, args.name))
    if users:
        print(f"{len(users)} run{'s' if len(users) != 1 else ''} now read it there: "
              + ", ".join(users), file=sys.stderr)
    return 0


def delete_dataset(args):
    from segcore import manage

    root = workspace_root(args.workspace)
    manage.check_dataset_change(root, args.dataset, "delete")
    plan = manage.dataset_plan(root, args.dataset)
    count = len(plan["runs"])
    trained = (f"; {count} run{'s' if count != 1 else ''} trained on it "
               f"stay{'s' if count == 1 else ''} (predict and export still work, evaluate "
               f"needs --data): {', '.join(plan['runs'])}" if count else "")
    if not args.yes:
        print(f"would delete dataset {plan['name']}: {plan['files']} files, {plan['size']}, "
              f"{plan['path']}{trained}")
        raise ConfigError(f"nothing deleted: give --yes to delete dataset {plan['name']}.")
    manage.delete_dataset(root, args.dataset)
    print(f"deleted dataset {plan['name']}: {plan['files']} files, {plan['size']}{trained}")
    return 0
