"""The national view (issue 17): one site built from what every Maison DOTE publishes.

Each Maison publishes its own static site; the national view never reads their
repositories. It reads, for each Maison listed in a configuration file
(:mod:`dote.national.config`), the open data that Maison's site already publishes
(``donnees/catalogue.jsonld``, DCAT-AP, and the territory's JSON dataset it points to),
checks it (:mod:`dote.national.harvest`), keeps it as reviewable files in a harvest
folder, and builds a national static site from it (:mod:`dote.national.site`): the
Maisons, national figures, an explorer over every activity and a search over every
Maison, each activity linking to its page on its own Maison's site.

The values passed between the stages are in :mod:`dote.national.model`.
"""
