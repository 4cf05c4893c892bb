"""Train: train any model on the chosen graph with a few clear controls, or upload your own triples.

The live view uses Streamlit's own line charts: they update in place every second and a half, where a
plotly figure would be redrawn from scratch."""

import pandas as pd
import streamlit as st

import jobs
import sidebar
from discovery import dataset_key, datasets_root, runs_root, slug
from messages import guard
from model_info import model_label, train_choices

ctx = sidebar.context()
st.title("Train")
st.markdown(f"Teach a new model the facts of **{ctx.dataset.label}** and watch it learn; when it finishes it "
            "appears on every other page.")
st.caption("It trains in the background: the progress bar and curves update every second and you can stop it at "
           "any time.")
if ctx.dataset.synthetic:
    st.caption(":material/science: Synthetic demo world.")

from kgcore.data.whitelist import resolve_whitelist  # noqa: E402  (after the page header: imports torch)
from kgcore.models import INTERACTIONS, MODELS  # noqa: E402
from kgcore.models.interactions import DEFAULT_INTERACTION  # noqa: E402
from kgcore.training.presets import PRESETS  # noqa: E402
from model_options import option_controls  # noqa: E402

MAX_EPOCHS = 200
MAX_UPLOAD_MB = 25


def _whitelist_rows(graph) -> pd.DataFrame:
    if ctx.dataset.synthetic:
        from kgcore.demo import DEFAULT_WHITELIST

        pairs = [list(p) for p in DEFAULT_WHITELIST]
    else:
        pairs = []
    return pd.DataFrame(pairs or [], columns=["relation", "tail"]).astype(str)


def _whitelist_pairs(frame: pd.DataFrame, graph) -> list[list[str]]:
    """The editor's filled rows resolved by kgcore (an unknown name is a SpecError naming the entry), as
    [relation, entity name or *]."""
    rows = frame.fillna("").astype(str)
    entries = [[relation.strip(), tail.strip()] for relation, tail in zip(rows["relation"], rows["tail"])
               if relation.strip() or tail.strip()]
    return [[graph.relations[r], "*" if t < 0 else graph.entities[t], a] for r, t, a in resolve_whitelist(entries, graph)]


# ---------------------------------------------------------------------------------------------- a running job
job = jobs.get(st.session_state.get("train_job"))


@st.fragment(run_every=1.5)
def job_panel() -> None:
    current = jobs.get(st.session_state.get("train_job"))
    if current is None:
        return
    with st.container(border=True):
        st.markdown(f"**Training {current.run_name}** ({model_label(current.model_config.model)})")
        rows = list(current.history)  # a snapshot: the training thread appends to it while the page reads
        done = len(rows)
        fraction = min(done / max(current.epochs, 1), 1.0)
        text = {"running": f"epoch {done} of {current.epochs}", "evaluating": "evaluating on the test triples…",
                "done": "finished", "cancelled": "stopped", "failed": "failed"}[current.status]
        st.progress(fraction, text=text)
        if rows:
            history = pd.DataFrame(rows).set_index("epoch")
            left, right = st.columns(2)
            left.caption("Training loss")
            left.line_chart(history[["loss"]], height=180, x_label="epoch", y_label="loss")
            if history["valid_mrr"].notna().any():
                right.caption("Validation MRR (higher is better)")
                right.line_chart(history[["valid_mrr"]].dropna(), height=180, x_label="epoch", y_label="MRR")
        if current.active:
            left, right, _ = st.columns([1, 1, 3])
            left.button("Stop and keep", key=f"keep_{current.id}", on_click=current.stop, args=(True,),
                        help="End after this epoch and save what the model has learned so far.")
            right.button("Stop and discard", key=f"discard_{current.id}", on_click=current.stop, args=(False,),
                         help="End after this epoch; nothing is saved.")
        elif current.status == "done":
            st.success(current.message, icon=":material/check_circle:")
            if not st.session_state.get(f"announced_{current.id}"):
                st.session_state[f"announced_{current.id}"] = True
                st.session_state[f"ended_{current.id}"] = True
                sidebar.select_run_after_rerun(str(current.out.resolve()), current.dataset_key)
                st.rerun(scope="app")  # the sidebar lists the new run
        elif current.status == "cancelled":
            st.info(current.message)
        else:
            st.error(current.message, icon=":material/error:")
        if not current.active and not st.session_state.get(f"ended_{current.id}"):
            st.session_state[f"ended_{current.id}"] = True
            st.rerun(scope="app")  # the whole page, so Start is enabled again at once

# ---------------------------------------------------------------------------------------------- settings
st.subheader("Train a model")
graph = None
with guard("the knowledge graph"):
    graph = ctx.graph()
if graph is not None:
    available = train_choices(MODELS)
    attributes = list(graph.spec.attribute_names)
    busy = job is not None and job.active
    setting = st.radio("Setting", ["fisher2020", "classic"], horizontal=True, key="train_setting",
                       format_func={"fisher2020": "The papers' setting (Fisher et al. 2020)",
                                    "classic": "Classic TransE (L1 distance, margin loss, Adam)"}.get,
                       help="The papers' setting: TransE with a dot product, each true fact against 1,000 others (a "
                            "quarter of them taken from the same batch of facts, so common values are contrasted as "
                            "often as they occur), AdaGrad, and link prediction measured without the sensitive facts. "
                            "Classic: the setting of the original TransE paper.")
    preset = PRESETS["fisher2020"] if setting == "fisher2020" else None
    with st.form("train_form"):
        model_name = st.radio("Model", available, format_func=model_label,
                              horizontal=True, key="train_model")
        cols = st.columns(3)
        epochs = cols[0].slider("Epochs", 1, MAX_EPOCHS, 20, key="train_epochs",
                                help="Passes over the training triples. The demo world needs about 30.")
        dim = cols[1].select_slider("Dimension", [16, 32, 64, 100, 128, 200], value=64, key="train_dim",
                                    help="Length of each entity's vector.")
        validate_every = cols[2].slider("Validation MRR every … epochs", 0, 20, 5, key="train_valid",
                                        help="0: never. Measured on up to 2,000 validation triples; the best "
                                             "model is kept.")
        default_interaction = preset.model["interaction"] if preset else DEFAULT_INTERACTION
        interaction = st.selectbox("Score function", list(INTERACTIONS), key=f"train_interaction_{setting}",
                                   index=list(INTERACTIONS).index(default_interaction),
                                   format_func=lambda name: INTERACTIONS[name].label,
                                   help="How the model scores a fact from its vectors. TransE translates the head by "
                                        "the relation; DistMult and ComplEx multiply them.")
        debiasing = [entry for entry in MODELS.values() if entry.debiasing]
        st.markdown("**Debiasing** (" + ", ".join(entry.label for entry in debiasing) + ")")
        debias = st.multiselect("Attributes to remove", attributes,
                                default=["gender"] if "gender" in attributes else attributes[:1], key="train_debias")
        option_values = {}
        for entry in MODELS.values():
            if entry.option_specs():
                st.markdown(f"*{entry.label} settings*")
                defaults = preset.model_options(entry.name, list(debias)) if preset else {}
                option_values[entry.name] = option_controls(entry, list(graph.relations), _whitelist_rows(graph),
                                                            defaults, suffix=setting)
        with st.expander("More settings"):
            cols = st.columns(4)
            lr = cols[0].number_input("Learning rate", 0.0001, 1.0, float(preset.train["lr"]) if preset else 0.01,
                                      format="%.4f", key=f"train_lr_{setting}")
            batch = cols[1].select_slider("Batch size", [128, 256, 512, 1000, 1024, 2048, 4096],
                                          int(preset.train["batch_size"]) if preset else 1024,
                                          key=f"train_batch_{setting}")
            seed = cols[2].number_input("Seed", 0, 2**31 - 1, 0, key="train_seed")
            withheld = st.multiselect(
                "Withhold relations", list(graph.relations), default=[], key="train_withhold",
                help="Train without these relations' facts. Basic TransE with an attribute's relation withheld "
                     "never sees that attribute: its leakage probe (Compare page) shows what the rest of the "
                     "graph gives away, the level a debiased model that keeps the other facts can reach.")
            default_name = (f"{model_name}-{interaction}-{dim}d-{epochs}ep" if interaction != default_interaction
                            else f"{model_name}-{dim}d-{epochs}ep") + ("-withheld" if withheld else "")
            name = cols[3].text_input("Run name", "", placeholder=default_name, key="train_name")
        submitted = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:",
                                          disabled=busy)
    if busy:
        st.caption("A training run of this session is in progress; stop it or wait for it to finish.")
    job_panel()  # right under Start, where the eye is after pressing it
    if submitted and not busy:
        with guard("the training settings"):
            from kgcore.data.datasets import DataSource
            from kgcore.errors import SpecError
            from kgcore.models import ModelConfig, check_model_config
            from kgcore.training.loop import TrainConfig

            entry = MODELS[model_name]
            if entry.debiasing and not debias:
                raise SpecError("Choose at least one attribute to remove for a debiased model.")
            options = {name: read() for name, read in option_values.get(model_name, {}).items()}
            for spec in entry.option_specs():
                if spec.widget == "table":
                    options[spec.name] = _whitelist_pairs(options[spec.name], graph)
            model_config = ModelConfig(model=model_name, dim=int(dim), interaction=interaction,
                                       entity_norm=preset.model.get("entity_norm", True) if preset else True,
                                       debias=list(debias) if entry.debiasing else [], options=options)
            train_config = TrainConfig(**{**(preset.train if preset else {}), "epochs": int(epochs),
                                          "batch_size": int(batch), "lr": float(lr), "seed": int(seed),
                                          "eval_every": int(validate_every), "patience": 10**6, "device": "cpu",
                                          "withheld_relations": list(withheld)})
            train_config.validate()
            check_model_config(model_config)
            run_name, folder, reservation = jobs.reserve(runs_root() / slug(ctx.dataset.label),
                                                         slug(name or default_name))
            data = DataSource.from_dict(ctx.dataset.data)
            started = jobs.start(ctx.dataset.key, run_name, folder, model_config, train_config, data, graph,
                                 without_sensitive=bool(preset and preset.without_sensitive), lock=reservation)
            st.session_state["train_job"] = started.id
            st.rerun()

if graph is None:
    job_panel()

# ---------------------------------------------------------------------------------------------- upload
st.subheader("Use your own knowledge graph")
st.markdown("Upload a triples file: one fact per line, `head<TAB>relation<TAB>tail` (UTF-8 text, `.tsv` or "
            f"`.txt`, at most {MAX_UPLOAD_MB} MB). Then name the relation that holds each sensitive attribute "
            "and the one that holds professions. A tenth of the facts is held out to measure link prediction.")
upload = st.file_uploader("Triples file", type=["tsv", "txt"], key="upload_file", max_upload_size=MAX_UPLOAD_MB)
if upload is not None:
    with guard("the uploaded file"):
        from kgcore.errors import DataError
        from kgcore.data.triples import parse_triples
        from kgcore.data.userdata import make_spec, relation_counts, save_dataset

        if upload.size > MAX_UPLOAD_MB * 2**20:
            raise DataError(f"{upload.name} is {upload.size / 2**20:.1f} MB; the dashboard accepts at most "
                            f"{MAX_UPLOAD_MB} MB. Train larger graphs from the command line: "
                            "python -m kgcore train --data-dir FOLDER ...")
        triples = parse_triples(upload.getvalue(), source=upload.name)
        relations = relation_counts(triples)
        entities = {e for h, _, t in triples for e in (h, t)}
        st.success(f"{upload.name}: {len(triples):,} triples, {len(relations):,} relations, {len(entities):,} "
                   "entities.", icon=":material/check_circle:")
        st.dataframe(relations, hide_index=True, height=min(36 * (len(relations) + 1) + 4, 300))
        names = relations["relation"].tolist()
        guess_attr = next((r for r in names if any(k in r.lower() for k in ("gender", "sex", "p21"))), names[0])
        guess_target = next((r for r in names if any(k in r.lower() for k in ("profession", "occupation", "p106"))),
                            names[-1] if len(names) > 1 else names[0])
        with st.form("upload_form"):
            cols = st.columns(2)
            label = cols[0].text_input("Name of this graph", upload.name.rsplit(".", 1)[0], key="upload_label")
            target = cols[1].selectbox("Target relation (professions)", names, index=names.index(guess_target),
                                       key="upload_target")
            st.markdown("Sensitive attributes: one row each (name, relation; tick *reversed* if the file stores "
                        "value → person).")
            attribute_rows = st.data_editor(
                pd.DataFrame([{"name": "gender" if guess_attr else "", "relation": guess_attr, "reversed": False}]),
                num_rows="dynamic", key="upload_attributes", width="stretch",
                column_config={"relation": st.column_config.SelectboxColumn(options=names, required=True),
                               "name": st.column_config.TextColumn(required=True),
                               "reversed": st.column_config.CheckboxColumn(default=False)})
            labels_file = st.file_uploader("Labels (optional): id<TAB>readable name per line", type=["tsv", "txt"],
                                           key="upload_labels", max_upload_size=MAX_UPLOAD_MB)
            create = st.form_submit_button("Create dataset", type="primary", icon=":material/upload:")
        if create:
            rows = attribute_rows.dropna(subset=["relation"]).fillna({"name": "", "reversed": False})
            attributes = {str(r["name"]).strip() or str(r["relation"]): str(r["relation"]) for _, r in rows.iterrows()}
            reversed_names = tuple(str(r["name"]).strip() or str(r["relation"]) for _, r in rows.iterrows()
                                   if bool(r["reversed"]))
            labels = None
            if labels_file is not None:
                from kgcore.data.userdata import parse_labels

                labels = parse_labels(labels_file.getvalue(), labels_file.name)
            folder = datasets_root() / slug(label)
            spec = make_spec(slug(label), target, attributes, reversed_names)
            source = save_dataset(folder, triples, spec, label=label, labels=labels, source_name=upload.name)
            sidebar.select_dataset_after_rerun(dataset_key(source.to_dict()))
            st.success(f"Created {label}. It is now selected in the sidebar; train a model on it above.")
            st.rerun()
