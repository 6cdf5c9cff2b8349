# Replies in English (Fluent syntax: https://projectfluent.org). The engine fills
# the { $variables }. Every message must exist in fr.ftl too (a test checks it).

welcome = Hello 👋 I am the assistant of { $clinic }. I can book, move or cancel an appointment, tell you your appointments and answer your questions. What would you like?
how_can_i_help = What can I do for you? For example: "I would like an appointment tomorrow morning".
fresh_start = Hello again. Let's start from the beginning.
reset = All right, let's start again. What would you like?
not_understood = Sorry, I did not understand. You can write for example: "I would like an appointment tomorrow morning".
ask_service =
    What kind of appointment?
    { $options }
ask_day = Which day would suit you? For example: tomorrow morning, Monday, 5 December.
day_not_understood = I did not understand the day. Write for example: tomorrow, Thursday afternoon, 12/12.
propose_slots =
    Here are the free slots for { $service }:
    { $options }
    Reply with the number of your choice, or suggest another day.
no_slots_that_day =
    There is no free slot left { $when }{ $period ->
        [morning] {" "}in the morning
        [afternoon] {" "}in the afternoon
        [evening] {" "}in the evening
       *[any] {""}
    } for { $service }. Here are the next ones:
    { $options }
    Reply with the number of your choice.
no_slots_at_all = Sorry, I cannot find any free slot for { $service } in the next { $days } days. I am passing your request to the team, who will get back to you.
slot_line = { $n }. { $day } at { $time } – { $practitioner }
option_line = { $n }. { $label }
choice_unclear = I did not understand your choice. Reply with a number between 1 and { $max }, or suggest another day.
slot_taken =
    Sorry, that slot has just been taken. Here are other options:
    { $options }
    Reply with the number of your choice.
ask_which_patient =
    Who is this appointment for?
    { $options }
another_person = Someone else
ask_name = To open the file, what are the patient's first name, last name and date of birth? (for example: Awa Mendy, 15/05/1990)
name_not_understood = I did not get the name. Please write the first name then the last name, for example: Awa Mendy.
ask_birth_date = Thank you { $first_name }! What is the patient's date of birth? (for example 15/05/1990, day first)
birth_date_not_understood = I did not understand the date of birth. Please write it like this: 15/05/1990 (day/month/year).
confirm_booking =
    To sum up:
    📅 { $day } at { $time }
    👩‍⚕️ { $practitioner }
    🩺 { $service }
    👤 { $patient }
    Reply 1 to confirm or 2 to cancel.
recap_corrected = Corrected.
mixed_answer = Your answer says yes and something else; to be sure, nothing is done yet.
confirm_unclear = Reply 1 (or "yes") to confirm, or 2 (or "no") not to book.
booked =
    Booked ✅ { $service } with { $practitioner }, { $day } at { $time }, for { $patient }.
    Address: { $address }.
    To cancel or move it, write to us here.
calendar_link = Add it to your calendar: { $url }
not_booked = All right, nothing is booked. Which other day or time would suit you?
handoff = I am passing your conversation to a member of the team, who will answer you here as soon as possible.
too_many_misunderstandings = I am sorry, I cannot understand you. I am passing the conversation to a member of the team, who will answer you here.
emergency = ⚠️ If this is a life-threatening emergency, call { $emergency_number } right now or go to the nearest emergency department. { $clinic_phone_line }I am alerting the { $clinic } team.
clinic_phone_line = You can also call the clinic on { $phone }.{" "}
list_none = You have no upcoming appointment with us.
list_header = Your upcoming appointments:
list_line = • { $day } at { $time } – { $service } with { $practitioner } ({ $patient })
practitioners_header = Our practitioners:
practitioner_line = • { $name }: { $services }
info_service_offered = Yes, we offer: { $services }. For an appointment, tell me which day suits you.
info_address = Our address: { $address }.
info_hours = Our opening hours: { $hours }
info_phone = You can reach the clinic on { $phone }.
info_unknown = I do not have that information. I am passing your question to the team, who will answer you here.
at = at
no_preference = No preference
appointment_summary = { $day } at { $time } – { $service } with { $practitioner } ({ $patient })
which_appointment_cancel =
    Which appointment do you want to cancel?
    { $options }
    Reply with its number.
which_appointment_move =
    Which appointment do you want to move?
    { $options }
    Reply with its number.
confirm_change_unclear = Reply 1 (or "yes") to confirm, or 2 (or "no") to change nothing.
choice_unclear_change = I did not understand your choice. Reply with a number from the list, or write "menu" to start again.
confirm_cancel =
    Do you want to cancel this appointment?
    { $appointment }
    Reply 1 to cancel it or 2 to keep it.
cancelled = Cancelled: { $appointment }. The slot is free again. Write to us if you would like another appointment.
cancel_kept = All right, your appointment stays as it is.
move_propose =
    Here are the free slots to move your appointment ({ $appointment }):
    { $options }
    Reply with the number of your choice, or suggest another day.
move_no_slots_that_day =
    There is no free slot that day. Here are the next ones to move your appointment ({ $appointment }):
    { $options }
    Reply with the number of your choice.
move_slot_taken =
    Sorry, that slot has just been taken. Here are other options for your appointment ({ $appointment }):
    { $options }
    Reply with the number of your choice.
move_impossible = Sorry, I cannot find a free slot to move this appointment. I am passing your request to the team, who will answer you here.
confirm_move =
    To sum up: move your appointment ({ $appointment }) to { $day } at { $time } with { $practitioner }.
    Reply 1 to confirm or 2 to change nothing.
moved = Done ✅ Your appointment is moved to { $day } at { $time } with { $practitioner }. The old slot is free again.
move_not_done = All right, I changed nothing: your appointment stays as it is.
resume_change = To go on, answer my previous question, or write "menu" to start again.
practitioners_on_day_header = { $day }, working:
practitioners_none_on_day = No practitioner is working { $day }.
info_prices = Our prices:
no_option_matches = None of the options matches “{ $what }”.
closed_without_choice = All right, I am not booking anything for now. Write to me whenever you like.
you_are_welcome = You're welcome! Write to me if you need anything else.
closed_day = We are closed { $when }.
beyond_horizon = Appointments open up to { $days } days ahead, that is until { $last }. Which other day would suit you?
info_from_document = According to “{ $title }”{ $page }:
info_document_page = , page { $page }
info_document_in_english = (This document is in English.)
info_document_in_french = (This document is in French.)
file_ask_birth_date = To protect the medical file, I need proof: what is { $name }'s date of birth? (DD/MM/YYYY)
file_which_patient = Whose file is it about? Reply with the number:
file_which_patient_again = I did not understand whose file it is about.
file_birth_date_wrong = That date does not match the file. What is { $name }'s date of birth?
file_not_verified = I cannot confirm the identity: to protect the file, I give no information. The front desk can help you on presentation of an ID.
file_cannot_verify = No date of birth is recorded for { $name }: I cannot verify the identity. The front desk can help you on presentation of an ID.
file_no_patient = No file is linked to this number: I am passing your question to the team, who will answer you here.
file_not_found = I did not find that in { $name }'s file. The team can answer you here if needed.
file_from_document = In { $name }'s file, “{ $title }”{ $page }:
file_discuss = Discuss this result with your doctor.

media_unsupported = I can only add documents (PDF) or photos of documents. For anything else, write your message here.
media_no_file = No patient file is linked to this number: I am passing your document to the team, who will answer you here.
media_which_patient = Which file should I add this document to? Reply with the number:
media_which_patient_again = I did not understand which file to add this document to.
media_confirm = Shall I add this document to { $name }'s file? Reply yes or no.
media_confirm_again = Reply yes to add this document to { $name }'s file, or no to leave it out.
media_added = Done: the document is in { $name }'s file. The team will see it.
media_added_photo = Done: the photo is in { $name }'s file. The team will look at it too.
media_not_added = All right, I will not add it.
media_failed = I could not add this document (type or size not accepted, or the file is unavailable). I am letting the team know; they will answer you here.
media_unreadable = I could not read the document you sent (too large, damaged or protected); it is not in the file. I am letting the team know; they will answer you here.

## Messages Nuru writes first, and the answers to them
reminder =
    Reminder: { $patient } has an appointment on { $day } at { $time } with { $practitioner } ({ $service }), { $clinic }.
    Reply 1 to confirm you are coming, 2 to cancel, 3 to move it.
attendance_confirmed = Thank you, noted: we look forward to seeing you { $appointment }.
opted_out = Noted: you will no longer receive reminders or announcements from us on this number. Reply START to receive them again. You can still write to us at any time and we will answer.
opted_in = Noted: you will receive our appointment reminders again. Reply STOP to stop them.
feedback_request =
    Hello { $patient }, thank you for your visit to { $clinic } on { $day }. How was your consultation with { $practitioner }?
    Reply with a rating from 1 (very bad) to 5 (excellent), and a comment if you wish.
feedback_again =
    Hello { $patient }, your opinion of your visit on { $day } with { $practitioner } would help us improve: a rating from 1 to 5 is enough.
    Reply STOP to stop these messages.
feedback_thanks_ask_comment = Thank you for your rating ({ $rating }/5)! If you would like to add a comment, write it now.
feedback_sorry = Thank you for your rating ({ $rating }/5), and we are sorry your visit did not go well. If you wish, tell us what went wrong: the team will read your message.
feedback_thanks = Thank you for your feedback: it has been passed on to the { $clinic } team.
feedback_ask_rating = Thank you, your comment has been passed on to the team. What rating from 1 (very bad) to 5 (excellent) would you give your visit?
feedback_declined = All right, thank you. We remain at your service.
feedback_write_comment = We are listening: write your comment.
