# Replies in French (Fluent syntax: https://projectfluent.org). The engine fills
# the { $variables }; $service_gender and $clinic_gender let French choose its
# articles (une consultation, du Centre, de la Clinique, de l'Hôpital).
# Every message must exist in en.ftl too (a test checks it).

welcome = Bonjour 👋 Je suis l'assistant { $clinic_gender ->
        [feminine] de la { $clinic }
        [elided] de l'{ $clinic }
        [bare_elided] d'{ $clinic }
        [bare] de { $clinic }
       *[masculine] du { $clinic }
    }. Je peux prendre, déplacer ou annuler un rendez-vous, vous dire vos rendez-vous et répondre à vos questions. Que souhaitez-vous ?
how_can_i_help = Que puis-je faire pour vous ? Par exemple : « je voudrais un rendez-vous demain matin ».
fresh_start = Bonjour, ravi de vous retrouver. Reprenons depuis le début.
reset = D'accord, on recommence. Que souhaitez-vous ?
not_understood = Désolé, je n'ai pas compris. Vous pouvez écrire par exemple « je voudrais un rendez-vous demain matin ».
ask_service =
    Pour quel type de rendez-vous ?
    { $options }
ask_day = Quel jour vous conviendrait ? Par exemple : demain matin, lundi, le 5 décembre.
day_not_understood = Je n'ai pas compris le jour. Écrivez par exemple : demain, jeudi après-midi, le 12/12.
propose_slots =
    Voici les créneaux libres pour { $service_gender ->
            [feminine] une { $service }
           *[masculine] un { $service }
        } :
    { $options }
    Répondez avec le numéro de votre choix, ou proposez un autre jour.
no_slots_that_day =
    Il n'y a plus de créneau libre { $when }{ $period ->
        [morning] {" "}le matin
        [afternoon] {" "}l'après-midi
        [evening] {" "}le soir
       *[any] {""}
    } pour { $service_gender ->
            [feminine] une { $service }
           *[masculine] un { $service }
        }. Voici les prochains disponibles :
    { $options }
    Répondez avec le numéro de votre choix.
no_slots_at_all = Désolé, je ne trouve aucun créneau libre pour { $service_gender ->
        [feminine] une { $service }
       *[masculine] un { $service }
    } dans les { $days } prochains jours. Je transmets votre demande à l'équipe, qui vous recontactera.
slot_line = { $n }. { $day } à { $time } – { $practitioner }
option_line = { $n }. { $label }
choice_unclear = Je n'ai pas compris votre choix. Répondez avec un numéro entre 1 et { $max }, ou proposez un autre jour.
slot_taken =
    Désolé, ce créneau vient d'être pris. Voici d'autres possibilités :
    { $options }
    Répondez avec le numéro de votre choix.
ask_which_patient =
    Pour qui est ce rendez-vous ?
    { $options }
another_person = Une autre personne
ask_name = Pour créer le dossier, quels sont le prénom, le nom et la date de naissance du patient ? (par exemple : Awa Mendy, 15/05/1990)
name_not_understood = Je n'ai pas bien compris le nom. Écrivez le prénom puis le nom, par exemple : Awa Mendy.
ask_birth_date = Merci { $first_name } ! Quelle est la date de naissance du patient ? (par exemple 15/05/1990)
birth_date_not_understood = Je n'ai pas compris la date de naissance. Écrivez-la comme ceci : 15/05/1990.
confirm_booking =
    Je récapitule :
    📅 { $day } à { $time }
    👩‍⚕️ { $practitioner }
    🩺 { $service }
    👤 { $patient }
    Répondez 1 pour confirmer ou 2 pour annuler.
recap_corrected = C'est corrigé.
mixed_answer = Votre réponse dit oui et autre chose à la fois ; pour être sûr, je ne fais rien pour l'instant.
confirm_unclear = Répondez 1 (ou « oui ») pour confirmer, ou 2 (ou « non ») pour ne pas réserver.
booked =
    C'est réservé ✅ { $service } avec { $practitioner }, { $day } à { $time }, pour { $patient }.
    Adresse : { $address }.
    Pour annuler ou déplacer, écrivez-nous ici.
calendar_link = Ajoutez-le à votre agenda : { $url }
not_booked = D'accord, je n'ai rien réservé. Quel autre jour ou quelle autre heure vous conviendrait ?
handoff = Je transmets votre conversation à un membre de l'équipe, qui vous répondra ici dès que possible.
too_many_misunderstandings = Je n'arrive pas à vous comprendre, désolé. Je transmets la conversation à un membre de l'équipe, qui vous répondra ici.
emergency = ⚠️ Si c'est une urgence vitale, appelez tout de suite le { $emergency_number } ou allez aux urgences les plus proches. { $clinic_phone_line }J'alerte l'équipe { $clinic_gender ->
        [feminine] de la { $clinic }
        [elided] de l'{ $clinic }
        [bare_elided] d'{ $clinic }
        [bare] de { $clinic }
       *[masculine] du { $clinic }
    }.
clinic_phone_line = Vous pouvez aussi appeler la clinique au { $phone }.{" "}
list_none = Vous n'avez aucun rendez-vous à venir chez nous.
list_header = Vos prochains rendez-vous :
list_line = • { $day } à { $time } – { $service } avec { $practitioner } ({ $patient })
practitioners_header = Nos praticiens :
practitioner_line = • { $name } : { $services }
info_service_offered = Oui, nous proposons : { $services }. Pour un rendez-vous, dites-moi quel jour vous arrange.
info_address = Nous sommes à l'adresse suivante : { $address }.
info_hours = Nos horaires : { $hours }
info_phone = Vous pouvez joindre la clinique au { $phone }.
info_unknown = Je n'ai pas cette information. Je transmets votre question à l'équipe, qui vous répondra ici.
at = à
no_preference = Peu importe
appointment_summary = { $day } à { $time } – { $service } avec { $practitioner } ({ $patient })
which_appointment_cancel =
    Quel rendez-vous voulez-vous annuler ?
    { $options }
    Répondez avec le numéro.
which_appointment_move =
    Quel rendez-vous voulez-vous déplacer ?
    { $options }
    Répondez avec le numéro.
confirm_change_unclear = Répondez 1 (ou « oui ») pour confirmer, ou 2 (ou « non ») pour ne rien changer.
choice_unclear_change = Je n'ai pas compris votre choix. Répondez avec le numéro de la liste, ou écrivez « menu » pour revenir au début.
confirm_cancel =
    Voulez-vous annuler ce rendez-vous ?
    { $appointment }
    Répondez 1 pour l'annuler ou 2 pour le garder.
cancelled = C'est annulé : { $appointment }. Le créneau est libéré. Écrivez-nous si vous souhaitez un autre rendez-vous.
cancel_kept = D'accord, votre rendez-vous est maintenu.
move_propose =
    Voici les créneaux libres pour déplacer votre rendez-vous ({ $appointment }) :
    { $options }
    Répondez avec le numéro de votre choix, ou proposez un autre jour.
move_no_slots_that_day =
    Il n'y a pas de créneau libre ce jour-là. Voici les prochains pour déplacer votre rendez-vous ({ $appointment }) :
    { $options }
    Répondez avec le numéro de votre choix.
move_slot_taken =
    Désolé, ce créneau vient d'être pris. Voici d'autres possibilités pour votre rendez-vous ({ $appointment }) :
    { $options }
    Répondez avec le numéro de votre choix.
move_impossible = Désolé, je ne trouve pas de créneau libre pour déplacer ce rendez-vous. Je transmets votre demande à l'équipe, qui vous répondra ici.
confirm_move =
    Je récapitule : déplacer votre rendez-vous ({ $appointment }) au { $day } à { $time } avec { $practitioner }.
    Répondez 1 pour confirmer ou 2 pour ne rien changer.
moved = C'est fait ✅ Votre rendez-vous est déplacé au { $day } à { $time } avec { $practitioner }. L'ancien créneau est libéré.
move_not_done = D'accord, je n'ai rien changé : votre rendez-vous est maintenu.
resume_change = Pour continuer, répondez à ma question précédente, ou écrivez « menu » pour revenir au début.
practitioners_on_day_header = { $day }, consultent :
practitioners_none_on_day = Aucun praticien ne consulte { $day }.
info_prices = Nos tarifs :
no_option_matches = Aucun des choix ne correspond à « { $what } ».
closed_without_choice = Très bien, je ne réserve rien pour l'instant. Écrivez-moi quand vous voulez, je suis là.
you_are_welcome = Avec plaisir ! Écrivez-moi si vous avez besoin d'autre chose.
closed_day = Nous sommes fermés { $when }.
beyond_horizon = Les rendez-vous s'ouvrent jusqu'à { $days } jours à l'avance, c'est-à-dire jusqu'au { $last }. Quel autre jour vous conviendrait ?
info_from_document = D'après « { $title } »{ $page } :
info_document_page = , page { $page }
info_document_in_english = (Ce document est en anglais.)
info_document_in_french = (Ce document est en français.)
file_ask_birth_date = Pour protéger le dossier médical, j'ai besoin d'une preuve : quelle est la date de naissance de { $name } ? (JJ/MM/AAAA)
file_which_patient = De quel dossier s'agit-il ? Répondez par le numéro :
file_which_patient_again = Je n'ai pas compris de quel dossier il s'agit.
file_birth_date_wrong = Cette date ne correspond pas au dossier. Quelle est la date de naissance de { $name } ?
file_not_verified = Je ne peux pas confirmer l'identité : pour protéger le dossier, je ne donne aucune information. L'accueil peut vous aider sur présentation d'une pièce d'identité.
file_cannot_verify = Aucune date de naissance n'est enregistrée pour { $name } : je ne peux pas vérifier l'identité. L'accueil peut vous aider sur présentation d'une pièce d'identité.
file_no_patient = Aucun dossier n'est lié à ce numéro : je transmets votre question à l'équipe, qui vous répondra ici.
file_not_found = Je n'ai pas trouvé cela dans le dossier de { $name }. L'équipe peut vous répondre ici si besoin.
file_from_document = Dans le dossier de { $name }, « { $title } »{ $page } :
file_discuss = Discutez de ce résultat avec votre médecin.

media_unsupported = Je ne peux ajouter que des documents (PDF) ou des photos de documents. Pour autre chose, écrivez votre message ici.
media_no_file = Aucun dossier de patient n'est lié à ce numéro : je transmets votre document à l'équipe, qui vous répondra ici.
media_which_patient = Dans quel dossier dois-je ajouter ce document ? Répondez par le numéro :
media_which_patient_again = Je n'ai pas compris dans quel dossier ajouter ce document.
media_confirm = Voulez-vous que j'ajoute ce document au dossier de { $name } ? Répondez oui ou non.
media_confirm_again = Répondez oui pour ajouter ce document au dossier de { $name }, ou non pour ne pas l'ajouter.
media_added = C'est fait : le document est ajouté au dossier de { $name }. L'équipe le verra.
media_added_photo = C'est fait : la photo est ajoutée au dossier de { $name }. L'équipe la regardera aussi.
media_not_added = D'accord, je ne l'ajoute pas.
media_failed = Je n'ai pas pu ajouter ce document (format ou taille non acceptés, ou fichier indisponible). Je préviens l'équipe, qui vous répondra ici.
media_unreadable = Je n'ai pas pu lire le document que vous avez envoyé (trop volumineux, abîmé ou protégé) ; il n'est pas ajouté au dossier. Je préviens l'équipe, qui vous répondra ici.

## Messages Nuru writes first, and the answers to them
reminder =
    Rappel : { $patient } a rendez-vous { $day } à { $time } avec { $practitioner } ({ $service }), { $clinic }.
    Répondez 1 pour confirmer votre venue, 2 pour annuler, 3 pour déplacer.
attendance_confirmed = Merci, c'est noté : nous vous attendons { $appointment }.
opted_out = C'est noté : vous ne recevrez plus de rappels ni d'annonces de notre part sur ce numéro. Répondez START pour les recevoir à nouveau. Vous pouvez toujours nous écrire : nous vous répondrons.
opted_in = C'est noté : vous recevrez à nouveau nos rappels de rendez-vous. Répondez STOP pour ne plus les recevoir.
feedback_request =
    Bonjour { $patient }, merci de votre visite du { $day } { $clinic_gender ->
        [feminine] à la { $clinic }
        [elided] à l'{ $clinic }
        [bare_elided] à { $clinic }
        [bare] à { $clinic }
       *[masculine] au { $clinic }
    }. Comment s'est passée votre consultation avec { $practitioner } ?
    Répondez par une note de 1 (très mauvais) à 5 (excellent), avec un commentaire si vous le souhaitez.
feedback_again =
    Bonjour { $patient }, votre avis sur votre visite du { $day } avec { $practitioner } nous aiderait à nous améliorer : une note de 1 à 5 suffit.
    Répondez STOP pour ne plus recevoir ces messages.
feedback_thanks_ask_comment = Merci pour votre note ({ $rating }/5) ! Si vous voulez ajouter un commentaire, écrivez-le maintenant.
feedback_sorry = Merci pour votre note ({ $rating }/5), et nous sommes désolés que votre visite ne se soit pas bien passée. Si vous le voulez, dites-nous ce qui n'a pas été : l'équipe lira votre message.
feedback_thanks = Merci pour votre avis : il a été transmis à l'équipe { $clinic_gender ->
        [feminine] de la { $clinic }
        [elided] de l'{ $clinic }
        [bare_elided] d'{ $clinic }
        [bare] de { $clinic }
       *[masculine] du { $clinic }
    }.
feedback_ask_rating = Merci, votre commentaire a été transmis à l'équipe. Quelle note de 1 (très mauvais) à 5 (excellent) donneriez-vous à votre visite ?
feedback_declined = D'accord, merci. Nous restons à votre disposition.
feedback_write_comment = Nous vous écoutons : écrivez votre commentaire.
